#!/usr/bin/env python3
"""Example calibration step of an autocal task: writes a CondDB v2 SQLite file.

The file has the schema CMSSW writes (TAG, IOV, PAYLOAD, TAG_LOG, GLOBAL_TAG,
GLOBAL_TAG_MAP, coral_sqlite_fk), one TAG with one IOV at --since, and one
PAYLOAD whose HASH is the SHA-1 of OBJECT_TYPE bytes followed by DATA bytes,
as CMS computes it. DATA stands in for the boost-serialised object: a JSON
document derived from the inputs. The outputs.json manifest labels the file
"condition". Standard library only; runs in milliseconds.
"""
import argparse
import datetime
import hashlib
import json
import os
import socket
import sqlite3
import sys

SCHEMA = [
    'CREATE TABLE "TAG" ( "NAME" TEXT ,"TIME_TYPE" TEXT  NOT NULL,"OBJECT_TYPE" TEXT  NOT NULL,"SYNCHRONIZATION" TEXT  NOT NULL,"END_OF_VALIDITY" ULONGLONG  NOT NULL,"DESCRIPTION" TEXT  NOT NULL,"LAST_VALIDATED_TIME" ULONGLONG  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL,"MODIFICATION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("NAME") )',
    'CREATE TABLE coral_sqlite_fk(id TEXT NOT NULL, name TEXT, tablename TEXT NOT NULL)',
    'CREATE TABLE "PAYLOAD" ( "HASH" TEXT ,"OBJECT_TYPE" TEXT  NOT NULL,"DATA" BLOB  NOT NULL,"STREAMER_INFO" BLOB  NOT NULL,"VERSION" TEXT  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("HASH") )',
    'CREATE TABLE "IOV" ( "TAG_NAME" TEXT  NOT NULL,"SINCE" ULONGLONG  NOT NULL,"PAYLOAD_HASH" TEXT  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("TAG_NAME","SINCE","INSERTION_TIME"), FOREIGN KEY("TAG_NAME") REFERENCES TAG("NAME"), FOREIGN KEY("PAYLOAD_HASH") REFERENCES PAYLOAD("HASH") )',
    'CREATE TABLE "TAG_LOG" ( "TAG_NAME" TEXT  NOT NULL,"EVENT_TIME" TIMESTAMP  NOT NULL,"USER_NAME" TEXT  NOT NULL,"HOST_NAME" TEXT  NOT NULL,"COMMAND" TEXT  NOT NULL,"ACTION" TEXT  NOT NULL,"USER_TEXT" TEXT  NOT NULL, PRIMARY KEY("TAG_NAME","EVENT_TIME","ACTION"), FOREIGN KEY("TAG_NAME") REFERENCES TAG("NAME") )',
    'CREATE TABLE "GLOBAL_TAG" ( "NAME" TEXT ,"VALIDITY" ULONGLONG  NOT NULL,"DESCRIPTION" TEXT  NOT NULL,"RELEASE" TEXT  NOT NULL,"SNAPSHOT_TIME" TIMESTAMP  NOT NULL,"INSERTION_TIME" TIMESTAMP  NOT NULL, PRIMARY KEY("NAME") )',
    'CREATE TABLE "GLOBAL_TAG_MAP" ( "GLOBAL_TAG_NAME" TEXT  NOT NULL,"RECORD" TEXT  NOT NULL,"LABEL" TEXT  NOT NULL,"TAG_NAME" TEXT  NOT NULL, PRIMARY KEY("GLOBAL_TAG_NAME","RECORD","LABEL") )',
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--object-type', required=True, help='C++ class of the payload, e.g. EcalTimeCalibConstants')
    p.add_argument('--tag', required=True, help='tag name inside the file')
    p.add_argument('--since', type=int, required=True, help='IOV start: first run of the block')
    p.add_argument('--inputs', nargs='*', default=[], help='outputs of upstream tasks')
    p.add_argument('--out', required=True, help='path of the SQLite file to write')
    a = p.parse_args()

    out = os.path.abspath(a.out)
    outdir = os.path.dirname(out)
    os.makedirs(outdir, exist_ok=True)
    if os.path.exists(out):
        os.remove(out)

    digests = []
    for path in a.inputs:
        try:
            with open(path, 'rb') as f:
                digests.append(hashlib.sha256(f.read()).hexdigest())
        except OSError:
            digests.append(hashlib.sha256(path.encode()).hexdigest())
    data = json.dumps({'objectType': a.object_type, 'since': a.since, 'inputs': sorted(digests)}, sort_keys=True).encode()
    payload_hash = hashlib.sha1(a.object_type.encode() + data).hexdigest()
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')
    streamer = json.dumps({'CMSSW_version': 'CMSSW_13_0_3', 'architecture': 'el8_amd64_gcc11',
                           'technology': 'boost/serialization', 'tech_version': '1.71'}).encode()

    db = sqlite3.connect(out)
    try:
        for stmt in SCHEMA:
            db.execute(stmt)
        db.execute('INSERT INTO TAG VALUES (?,?,?,?,?,?,?,?,?)',
                   (a.tag, 'Run', a.object_type, 'any', -1, f'autocal example payload of {a.object_type}', 0, now, now))
        db.execute('INSERT INTO PAYLOAD VALUES (?,?,?,?,?,?)',
                   (payload_hash, a.object_type, sqlite3.Binary(data), sqlite3.Binary(streamer), '3.0', now))
        db.execute('INSERT INTO IOV VALUES (?,?,?,?)', (a.tag, a.since, payload_hash, now))
        db.execute('INSERT INTO TAG_LOG VALUES (?,?,?,?,?,?,?)',
                   (a.tag, now, os.environ.get('USER', 'autocal'), socket.gethostname(), 'write_payload.py', 'New tag created.', ''))
        db.commit()
    finally:
        db.close()

    with open(os.path.join(outdir, 'outputs.json'), 'w') as f:
        json.dump({'outputs': [{'path': out, 'label': 'condition'}]}, f)
    print(f'{a.tag}: {a.object_type} payload {payload_hash} at since {a.since} -> {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
