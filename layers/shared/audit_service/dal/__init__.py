"""Data access: the only code that talks to DynamoDB.

``ClientError`` codes are translated into domain errors here, so nothing above
this package needs to know about botocore.
"""
