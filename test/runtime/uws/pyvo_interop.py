"""pyvo interop: drive one UWS job with pyvo's AsyncTAPJob (run with /usr/bin/python3).

argv: job_url token. Prints one JSON line describing what pyvo saw.
"""
import datetime
import json
import sys

import requests
from pyvo.dal.tap import AsyncTAPJob

job_url, token = sys.argv[1], sys.argv[2]
session = requests.Session()
session.headers["Authorization"] = "Bearer " + token

job = AsyncTAPJob(job_url, session=session)
seen = {"initial_phase": job.phase, "job_id": job.job_id, "owner": job.owner}
job.execution_duration = 30
seen["execution_duration"] = float(job.execution_duration.to_value("s"))
dest = datetime.datetime.utcnow() + datetime.timedelta(days=1)
job.destruction = dest
seen["destruction_delta_s"] = abs((job.destruction.to_datetime().replace(tzinfo=None) - dest).total_seconds())
job.run()
job.wait()
seen["final_phase"] = job.phase
seen["result_uris"] = job.result_uris
seen["result_text"] = session.get(job.result_uri).text
seen["parameters"] = {p.id_: p.content for p in job.job.parameters}
job.delete()
seen["after_delete_status"] = session.get(job_url).status_code
print(json.dumps(seen))
