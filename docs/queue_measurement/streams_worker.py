"""A minimal Redis Streams consumer: XREADGROUP, XAUTOCLAIM of entries idle > 8 s, and a
heartbeat that XCLAIMs its own entry every 2 s."""
import json
import os
import sys
import threading
import time

import redis

import qjobs

r = redis.Redis.from_url(qjobs.URL)
me = f"w{os.getpid()}"
try:
    r.xgroup_create("qb:stream", "g", id="0", mkstream=True)
except redis.ResponseError:
    pass
current = [None]


def beat():
    while True:
        time.sleep(2)
        if current[0]:
            r.xclaim("qb:stream", "g", me, 0, [current[0]], justid=True)


threading.Thread(target=beat, daemon=True).start()
while True:
    _, claimed, _ = r.xautoclaim("qb:stream", "g", me, 8000, "0-0", count=1)
    entries = claimed or (r.xreadgroup("g", me, {"qb:stream": ">"}, count=1, block=1000)
                          or [[None, []]])[0][1]
    for entry_id, fields in entries:
        current[0] = entry_id
        args = json.loads(fields[b"args"])
        qjobs.mark(*args)
        r.xack("qb:stream", "g", entry_id)
        current[0] = None
