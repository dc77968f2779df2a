"""A local HTTP server standing in for both Aliyun Dysms and Tencent Cloud SMS ``SendSms``.

``http://127.0.0.1:<port>/`` (``server.url``) answers a Tencent request (it has ``X-TC-Action``) or
an Aliyun one (form body or query with ``Action``). Like the real platforms it recomputes each
request's signature with the configured key and rejects a wrong one (``SignatureDoesNotMatch``,
``AuthFailure.SignatureFailure``), an unknown key id, a stale timestamp, a reused Aliyun nonce, a bad
phone number, and (when configured) an unknown sign name or template. Accepted messages are kept in
``messages``; ``fail_with(code)`` makes the next request(s) fail with that platform code.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devices.sms.platforms import (
    TC3_ALGORITHM,
    aliyun_signature,
    tc3_canonical_request,
    tc3_date,
    tc3_signature,
    tc3_string_to_sign,
)

_MAINLAND = re.compile(r"^(?:\+?86)?1\d{10}$")


@dataclass(frozen=True)
class PlatformSms:
    """One accepted message: ``params`` is the Aliyun dict or the Tencent list."""

    platform: str  # "aliyun" | "tencent"
    phone: str
    sign_name: str
    template: str
    params: Any


class SmsPlatformServer:
    """Keys: ``aliyun=(AccessKeyId, AccessKeySecret)``, ``tencent=(SecretId, SecretKey)``."""

    def __init__(self, *, aliyun: tuple[str, str] = ("LTAI-test-id", "aliyun-test-secret"),
                 tencent: tuple[str, str] = ("AKID-test-id", "tencent-test-key"),
                 sdk_app_id: str = "1400000000", sign_names: set[str] | None = None,
                 templates: set[str] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.aliyun_keys, self.tencent_keys = dict([aliyun]), dict([tencent])
        self.sdk_app_id, self.sign_names, self.templates = sdk_app_id, sign_names, templates
        self.clock = clock
        self.messages: list[PlatformSms] = []
        self.rejections: list[str] = []  # every error code answered
        self._failures: list[str] = []
        self._nonces: set[str] = set()
        self._lock = threading.Lock()
        server = self
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sms-platform", daemon=True)
        self._thread.start()

    def fail_with(self, code: str, *, times: int = 1) -> None:
        """The next ``times`` otherwise valid requests fail with this platform code."""
        with self._lock:
            self._failures.extend([code] * times)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(2)

    def __enter__(self) -> SmsPlatformServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- Aliyun ------------------------------------------------------------------------------------

    def aliyun(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()

        def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
            self.rejections.append(code)
            return status, {"RequestId": request_id, "Code": code, "Message": message}

        secret = self.aliyun_keys.get(params.get("AccessKeyId", ""))
        if secret is None:
            return error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return error(400, "InvalidParameter", "SignatureMethod / SignatureVersion")
        if aliyun_signature(params, secret, method) != params.get("Signature"):
            return error(400, "SignatureDoesNotMatch",
                         "Specified signature is not matched with our calculation.")
        try:
            stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return error(400, "MissingTimestamp", "Timestamp is mandatory for this action.")
        if abs(stamp.timestamp() - self.clock()) > 15 * 60:
            return error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        with self._lock:
            nonce = params.get("SignatureNonce", "")
            if nonce in self._nonces:
                return error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(nonce)
        if params.get("Action") != "SendSms" or params.get("Version") != "2017-05-25":
            return error(400, "InvalidAction.NotFound", "Specified api is not found.")
        phone, sign_name = params.get("PhoneNumbers", ""), params.get("SignName", "")
        template = params.get("TemplateCode", "")
        if not _MAINLAND.match(phone):
            return error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if self.sign_names is not None and sign_name not in self.sign_names:
            return error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if self.templates is not None and template not in self.templates:
            return error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params["TemplateParam"]) if params.get("TemplateParam") else {}
        except ValueError:
            return error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        failure = self._next_failure()
        if failure is not None:
            status = 503 if failure == "ServiceUnavailable" else 200 if failure.startswith("is") else 400
            return error(status, failure, "simulated failure")
        self.messages.append(PlatformSms("aliyun", phone, sign_name, template, values))
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                     "BizId": f"{len(self.messages)}^0"}

    # --- Tencent -----------------------------------------------------------------------------------

    def tencent(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        request_id = str(uuid.uuid4())

        def error(code: str, message: str) -> dict[str, Any]:
            self.rejections.append(code)
            return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}

        lower = {k.lower(): v for k, v in headers.items()}
        m = re.match(rf"^{TC3_ALGORITHM} Credential=([^/]+)/(\d{{4}}-\d{{2}}-\d{{2}})/([^/]+)/tc3_request, "
                     r"SignedHeaders=([a-z0-9;\-]+), Signature=([0-9a-f]{64})$", lower.get("authorization", ""))
        if m is None:
            return error("AuthFailure.InvalidAuthorization", "Authorization 头格式错误")
        secret_id, date, service, signed, signature = m.groups()
        key = self.tencent_keys.get(secret_id)
        if key is None:
            return error("AuthFailure.SecretIdNotFound", "密钥不存在")
        try:
            timestamp = int(lower.get("x-tc-timestamp", ""))
        except ValueError:
            return error("MissingParameter", "缺少 X-TC-Timestamp")
        if abs(timestamp - self.clock()) > 5 * 60:
            return error("AuthFailure.SignatureExpire", "签名过期")
        names = signed.split(";")
        if "content-type" not in names or "host" not in names or any(n not in lower for n in names):
            return error("AuthFailure.SignatureFailure", "SignedHeaders 不完整")
        canonical = tc3_canonical_request(body, {n: lower[n] for n in names})
        expected = tc3_signature(key, tc3_string_to_sign(canonical, timestamp, service), timestamp, service)
        if date != tc3_date(timestamp) or service != "sms" or expected != signature:
            return error("AuthFailure.SignatureFailure", "签名校验失败")
        if lower.get("x-tc-action") != "SendSms" or lower.get("x-tc-version") != "2021-01-11":
            return error("InvalidAction", "接口不存在")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return error("InvalidParameter", "请求体不是 JSON")
        if data.get("SmsSdkAppId") != self.sdk_app_id:
            return error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在")
        sign_name, template = data.get("SignName", ""), data.get("TemplateId", "")
        if self.sign_names is not None and sign_name not in self.sign_names:
            return error("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误")
        if self.templates is not None and template not in self.templates:
            return error("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")
        phones = data.get("PhoneNumberSet") or []
        failure = self._next_failure()
        if failure is not None and not failure.startswith(("LimitExceeded", "InvalidParameterValue")):
            return error(failure, "simulated failure")
        statuses = []
        for phone in phones:
            code = failure or ("Ok" if re.match(r"^\+861\d{10}$", phone) else
                               "InvalidParameterValue.IncorrectPhoneNumber")
            if code == "Ok":
                self.messages.append(PlatformSms("tencent", phone, sign_name, template,
                                                 list(data.get("TemplateParamSet") or [])))
            else:
                self.rejections.append(code)
            statuses.append({"SerialNo": f"2028:{uuid.uuid4().int % 10**18}", "PhoneNumber": phone,
                             "Fee": 1 if code == "Ok" else 0, "SessionContext": "", "Code": code,
                             "Message": "send success" if code == "Ok" else "simulated failure",
                             "IsoCode": "CN"})
        return {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None


def _handler(server: SmsPlatformServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — http.server's naming
            query = urllib.parse.urlsplit(self.path).query
            self._aliyun("GET", dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("X-TC-Action"):
                self._reply(200, server.tencent(dict(self.headers.items()), body))
                return
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            params.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
            self._aliyun("POST", params)

        def _aliyun(self, method: str, params: dict[str, str]) -> None:
            status, answer = server.aliyun(method, params)
            self._reply(status, answer)

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            raw = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler
