#!/usr/bin/python3
"""A real SAMP hub (astropy) with the Web Profile on 127.0.0.1:21012, approving web registrations as
a desktop user would, and a receiving client subscribed to table.load.votable (and the spectrum and
FITS messages) that fetches each message's URL itself, with no credentials, as TOPCAT does. Prints
READY, then one JSON line per message received: mtype, url, HTTP status, length, sha256, head."""
import hashlib, json, sys, tempfile, threading, time, urllib.error, urllib.request
from astropy.samp import SAMPHubServer, SAMPIntegratedClient


class AutoApprove:
    """The web profile's consent dialog, always answering yes (queues set by the hub)."""
    queue_request = None
    queue_result = None

    def run(self):
        while True:
            if self.queue_request is not None:
                self.queue_request.get()
                self.queue_result.put(True)
            else:
                time.sleep(0.05)


def main():
    lock = tempfile.NamedTemporaryFile(prefix="samp-lock-", delete=False).name
    dialog = AutoApprove()
    hub = SAMPHubServer(web_profile=True, web_profile_dialog=dialog, lockfile=lock, addr="127.0.0.1")
    hub.start(wait=False)
    threading.Thread(target=dialog.run, daemon=True).start()
    client = SAMPIntegratedClient(name="test-receiver", description="fetches what it is sent")
    client.connect(hub=hub)
    out = sys.stdout

    def receive(private_key, sender_id, msg_id, mtype, params, extra):
        url = params.get("url", "")
        rec = {"mtype": mtype, "url": url, "name": params.get("name")}
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = r.read()
                rec.update(status=r.status, length=len(body), sha256=hashlib.sha256(body).hexdigest(), head=body[:200].decode("utf8", "replace"))
        except urllib.error.HTTPError as e:
            rec.update(status=e.code, error=e.read().decode("utf8", "replace"))
        except Exception as e:  # noqa: BLE001 - reported to the test
            rec.update(status=0, error=str(e))
        out.write(json.dumps(rec) + "\n")
        out.flush()

    for mt in ("table.load.votable", "spectrum.load.ssa-generic", "image.load.fits"):
        client.bind_receive_notification(mt, receive)
    out.write("READY\n")
    out.flush()
    try:
        sys.stdin.read()  # until the test closes stdin (or kills us)
    finally:
        client.disconnect()
        hub.stop()


main()
