"""A receiving organization's system, run as its own process: reads its Task queue, accepts a
referral, completes it, tries a stale version, and tries a referral that isn't its own. Prints
what it saw as one JSON object. Usage: python partner_client.py BASE_URL KEY OTHER_KEY ORG_ID"""

from __future__ import annotations

import json
import sys

import requests

FHIR = "application/fhir+json"


def main(base: str, key: str, other_key: str, organization: str) -> dict:
    mine = requests.Session()
    mine.headers["Authorization"] = f"Api-Key {key}"
    seen: dict = {}
    queue = mine.get(f"{base}/fhir/Task", params={"owner": f"Organization/{organization}",
                                                  "status": "requested"}, timeout=30)  # fmt: skip
    seen["queue_status"] = queue.status_code
    entries = queue.json().get("entry", [])
    seen["queue_size"] = len(entries)
    task_id = entries[0]["resource"]["id"]
    read = mine.get(f"{base}/fhir/Task/{task_id}", timeout=30)
    seen["first_etag"] = read.headers.get("ETag")
    accepted = mine.patch(
        f"{base}/fhir/Task/{task_id}",
        data=json.dumps([{"op": "replace", "path": "/status", "value": "accepted"}]),
        headers={"Content-Type": "application/json-patch+json", "If-Match": read.headers["ETag"]},
        timeout=30,
    )
    seen["accept"] = [
        accepted.status_code,
        accepted.json().get("status"),
        accepted.headers.get("ETag"),
    ]
    task = accepted.json()
    task["status"] = "completed"
    task["output"] = [{"type": {"text": "outcome"}, "valueString": "Bed assigned for tonight"}]
    done = mine.put(
        f"{base}/fhir/Task/{task_id}", data=json.dumps(task),
        headers={"Content-Type": FHIR, "If-Match": accepted.headers["ETag"]}, timeout=30,
    )  # fmt: skip
    seen["complete"] = [done.status_code, done.json().get("status")]
    stale = mine.patch(
        f"{base}/fhir/Task/{task_id}",
        data=json.dumps({"statusReason": {"text": "late"}}),
        headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["ETag"]},
        timeout=30,
    )
    seen["stale"] = [stale.status_code, stale.json().get("code")]
    other = requests.get(
        f"{base}/fhir/Task/{task_id}", headers={"Authorization": f"Api-Key {other_key}"}, timeout=30
    )
    seen["other_organization"] = other.status_code
    seen["task_id"] = task_id
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
