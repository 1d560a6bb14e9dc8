"""Validates an OpenAPI document with openapi-spec-validator.   check_openapi.py DOC.json"""
import json
import sys

from openapi_spec_validator import validate

doc = json.load(open(sys.argv[1]))
validate(doc)
print(f"ok: OpenAPI {doc['openapi']} document with {len(doc['paths'])} paths is valid")
