"""crmlite-webhook: a sender that POSTs each message as JSON to a configured URL."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

from crmlite import hookimpl
from crmlite.core.sending import Message, SendResult
from crmlite.plugins import PluginSettings, SettingField

__version__ = "0.1.0"
PLUGIN = "webhook"  # the entry point's name: crmlite registers the plugin under it


def payload(message: Message) -> dict:
    contact = message.contact or {}
    return {
        "event": "message",
        "channel": message.channel,
        "subject": message.subject,
        "body": message.body,
        "contact": {k: contact.get(k) for k in ("id", "name", "email", "phone")},
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class WebhookSender:
    name = "webhook"
    label = "Webhook (JSON POST)"
    channel = "webhook"

    def send(self, message: Message) -> SendResult:
        settings = message.settings
        url = (settings.get("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            return SendResult(False, "The webhook URL is not set (Admin → Plugins → webhook).")
        data = json.dumps(payload(message), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"crmlite-webhook/{__version__}",
        }
        secret = settings.get("secret") or ""
        if secret:
            digest = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
            headers["X-Crmlite-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            timeout = int(settings.get("timeout") or 10)
        except (TypeError, ValueError):
            timeout = 10
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return SendResult(True, f"{url} answered {response.status}")
        except urllib.error.HTTPError as exc:
            return SendResult(False, f"{url} answered {exc.code} {exc.reason}")
        except urllib.error.URLError as exc:
            return SendResult(False, f"could not reach {url}: {exc.reason}")
        except (TimeoutError, OSError) as exc:
            return SendResult(False, f"could not reach {url}: {exc}")


@hookimpl
def register_senders():
    return [WebhookSender()]


@hookimpl
def register_settings():
    return [
        PluginSettings(
            plugin=PLUGIN,
            fields=[
                SettingField("url", "URL", "url", "", "Where to POST each message as JSON"),
                SettingField(
                    "secret",
                    "Secret",
                    "password",
                    "",
                    "If set, X-Crmlite-Signature carries an HMAC-SHA256 of the body",
                ),
                SettingField("timeout", "Timeout, seconds", "int", 10),
            ],
        )
    ]
