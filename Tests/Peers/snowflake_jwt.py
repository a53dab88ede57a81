"""Checks a key-pair sign-in JWT against snowflake-connector-python's own.

    python snowflake_jwt.py PRIVATE_KEY_PEM_FILE ACCOUNT USER JWT
      ->  JSON {"verified": bool, "claims": {...}, "expected": {"iss", "sub"}} on stdout

`verified`: the JWT's RS256 signature checks out with the key's public half. `expected`: the issuer and subject the
Python connector's AuthByKeyPair puts in the JWT it makes for the same key, account and user.
"""

import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from snowflake.connector.auth.keypair import AuthByKeyPair

key_file, account, user, token = sys.argv[1:5]
with open(key_file, "rb") as f:
    private_key = serialization.load_pem_private_key(f.read(), password=None)
der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
auth = AuthByKeyPair(private_key=der)
theirs = jwt.decode(auth.prepare(account=account, user=user), options={"verify_signature": False})
try:
    claims = jwt.decode(token, private_key.public_key(), algorithms=["RS256"], options={"verify_exp": True})
    verified = True
except jwt.PyJWTError as error:
    claims, verified = {"error": str(error)}, False
print(json.dumps({"verified": verified, "claims": claims, "expected": {"iss": theirs["iss"], "sub": theirs["sub"]}}))
