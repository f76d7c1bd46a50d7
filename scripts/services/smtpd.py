"""A loopback SMTP server for the tests (aiosmtpd), writing every accepted message to a
Maildir so tests can read what arrived.

    python3 scripts/services/smtpd.py PORT MAILDIR

Test rules, by recipient domain: `tempfail.invalid` is refused with 451 (a temporary
failure: the sender retries), `reject.invalid` with 550 (permanent). Everything else is
accepted. Stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import mailbox
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path: str) -> None:
        # Maildir(create=True) makes the subfolders only when `path` itself is missing.
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.box = mailbox.Maildir(path, create=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain == "tempfail.invalid":
            return "451 4.3.0 Try again later (test rule)"
        if domain == "reject.invalid":
            return "550 5.1.1 No such mailbox (test rule)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Maildir writes to tmp/ and renames into new/: a reader never sees half a mail.
        self.box.add(envelope.original_content)
        return "250 Message accepted for delivery"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(MaildirHandler(path), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtpd listening on 127.0.0.1:{port}, mail to {path}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
