"""SMS platforms over plain HTTPS (standard library only): Aliyun Dysms and Tencent Cloud SMS.

Public API::

    AliyunSms(access_key_id, access_key_secret, sign_name, *, endpoint=ALIYUN_ENDPOINT, ...)
    TencentSms(secret_id, secret_key, sdk_app_id, sign_name, *, endpoint=TENCENT_ENDPOINT, ...)
        .send(phone, template, params=None) -> str   # BizId / SerialNo; raises SmsError

    percent_encode(value) -> str
    aliyun_string_to_sign(params, method="GET") -> str
    aliyun_signature(params, access_key_secret, method="GET") -> str
    tc3_canonical_request(payload, headers, *, method="POST", query="") -> str
    tc3_string_to_sign(canonical_request, timestamp, service) -> str
    tc3_signature(secret_key, string_to_sign, timestamp, service) -> str
    tc3_authorization(secret_id, secret_key, *, service, timestamp, payload, headers) -> str
    ALIYUN_ERRORS, TENCENT_ERRORS        # platform code → (Chinese message, retryable)

Both platforms only send pre-approved signature (签名) + template (模板) messages: ``template`` is
the template code (Aliyun ``SMS_123…``) or id (Tencent ``123456``), ``params`` its variables by
name (Aliyun ``${name}``); Tencent's ``{1}``, ``{2}`` … take the values in key order when every key
is a number, else in insertion order. Signing is pure (time and nonce passed in) and checked
against the platforms' published examples. ``endpoint`` may point at a local server
(``devices.simulators.sms_platform``).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from devices.sms import SmsError
from meike.ports import ALIYUN_ENDPOINT, TENCENT_ENDPOINT

TENCENT_VERSION = "2021-01-11"
TC3_ALGORITHM = "TC3-HMAC-SHA256"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# --- Aliyun RPC signature (HMAC-SHA1, SignatureVersion 1.0) ----------------------------------------


def percent_encode(value: str) -> str:
    """RFC 3986 over UTF-8: only ``A-Za-z0-9-_.~`` stay (space → ``%20``, ``*`` → ``%2A``)."""
    return urllib.parse.quote(value, safe="-_.~")


def aliyun_string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    """``METHOD&%2F&`` + the percent-encoded, sorted canonical query (``Signature`` left out)."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                     for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(query)}"


def aliyun_signature(params: Mapping[str, str], access_key_secret: str, method: str = "GET") -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + "&"``."""
    digest = hmac.new((access_key_secret + "&").encode(), aliyun_string_to_sign(params, method).encode(),
                      hashlib.sha1).digest()
    return b64encode(digest).decode("ascii")


def aliyun_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Tencent Cloud TC3-HMAC-SHA256 ------------------------------------------------------------------


def _sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_date(timestamp: int) -> str:
    """The credential date: the UTC day of the timestamp (not the local one)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def tc3_signed_headers(headers: Mapping[str, str]) -> str:
    return ";".join(sorted(k.lower() for k in headers))


def tc3_canonical_request(payload: bytes | str, headers: Mapping[str, str], *, method: str = "POST",
                          query: str = "") -> str:
    """Method, ``/``, query, the signed headers (``key:value`` lower-cased, sorted), their names, body hash."""
    canonical_headers = "".join(f"{k.lower()}:{headers[k].strip().lower()}\n"
                                for k in sorted(headers, key=str.lower))
    return "\n".join([method.upper(), "/", query, canonical_headers, tc3_signed_headers(headers),
                      _sha256_hex(payload)])


def tc3_string_to_sign(canonical_request: str, timestamp: int, service: str) -> str:
    scope = f"{tc3_date(timestamp)}/{service}/tc3_request"
    return "\n".join([TC3_ALGORITHM, str(timestamp), scope, _sha256_hex(canonical_request)])


def tc3_signature(secret_key: str, string_to_sign: str, timestamp: int, service: str) -> str:
    """HMAC chain ``"TC3" + key`` → date → service → ``tc3_request``, then the string to sign (hex)."""
    secret_date = _hmac256(("TC3" + secret_key).encode(), tc3_date(timestamp))
    secret_signing = _hmac256(_hmac256(secret_date, service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(secret_id: str, secret_key: str, *, service: str, timestamp: int,
                      payload: bytes | str, headers: Mapping[str, str]) -> str:
    """The ``Authorization`` header for a POST whose signed headers are ``headers``."""
    to_sign = tc3_string_to_sign(tc3_canonical_request(payload, headers), timestamp, service)
    return (f"{TC3_ALGORITHM} Credential={secret_id}/{tc3_date(timestamp)}/{service}/tc3_request, "
            f"SignedHeaders={tc3_signed_headers(headers)}, "
            f"Signature={tc3_signature(secret_key, to_sign, timestamp, service)}")


# --- error codes → Chinese ------------------------------------------------------------------------

ALIYUN_ERRORS: dict[str, tuple[str, bool]] = {
    "isv.BUSINESS_LIMIT_CONTROL": ("发送太频繁，触发了运营商的号码限流（同一号码每分钟/每小时/每天有上限）", True),
    "isv.DAY_LIMIT_CONTROL": ("已达到当日发送上限", True),
    "isv.MOBILE_NUMBER_ILLEGAL": ("手机号码格式不正确", False),
    "isv.MOBILE_COUNT_OVER_LIMIT": ("一次发送的手机号码过多", False),
    "isv.SMS_TEMPLATE_ILLEGAL": ("短信模板不存在或未审核通过，请检查模板编号", False),
    "isv.SMS_SIGNATURE_ILLEGAL": ("短信签名不存在或未审核通过，请检查签名", False),
    "isv.SMS_SIGN_ILLEGAL": ("短信签名不存在或未审核通过，请检查签名", False),
    "isv.TEMPLATE_MISSING_PARAMETERS": ("模板缺少变量", False),
    "isv.TEMPLATE_PARAMS_ILLEGAL": ("模板变量内容不合规", False),
    "isv.INVALID_JSON_PARAM": ("模板变量格式不正确", False),
    "isv.INVALID_PARAMETERS": ("参数不正确", False),
    "isv.PARAM_LENGTH_LIMIT": ("模板变量超出长度限制", False),
    "isv.PARAM_NOT_SUPPORT_URL": ("模板变量不能包含网址", False),
    "isv.BLACK_KEY_CONTROL_LIMIT": ("短信内容含有禁用词", False),
    "isv.AMOUNT_NOT_ENOUGH": ("阿里云账户余额不足，请充值", False),
    "isv.OUT_OF_SERVICE": ("阿里云账户已停机（可能欠费）", False),
    "isv.ACCOUNT_NOT_EXISTS": ("阿里云账户不存在", False),
    "isv.ACCOUNT_ABNORMAL": ("阿里云账户异常", False),
    "isv.PRODUCT_UN_SUBSCRIPT": ("未开通阿里云短信服务", False),
    "isv.PRODUCT_UNSUBSCRIBE": ("未开通阿里云短信服务", False),
    "isp.RAM_PERMISSION_DENY": ("AccessKey 没有短信发送权限（RAM 授权）", False),
    "isp.SYSTEM_ERROR": ("阿里云短信系统错误", True),
    "SignatureDoesNotMatch": ("AccessKey Secret 不正确（签名校验失败）", False),
    "InvalidAccessKeyId.NotFound": ("AccessKey ID 不存在", False),
    "InvalidAccessKeyId.Inactive": ("AccessKey 已被禁用", False),
    "InvalidTimeStamp.Expired": ("电脑时间不准确，请校准系统时间", False),
    "SignatureNonceUsed": ("请求重复，稍后将重试", True),
    "Throttling": ("请求过于频繁，稍后将重试", True),
    "Throttling.User": ("请求过于频繁，稍后将重试", True),
    "ServiceUnavailable": ("阿里云短信服务暂不可用", True),
    "InternalError": ("阿里云短信服务内部错误", True),
}

TENCENT_ERRORS: dict[str, tuple[str, bool]] = {
    "AuthFailure.SignatureFailure": ("SecretKey 不正确（签名校验失败）", False),
    "AuthFailure.SecretIdNotFound": ("SecretId 不存在", False),
    "AuthFailure.SignatureExpire": ("电脑时间不准确，请校准系统时间", False),
    "AuthFailure.UnauthorizedOperation": ("密钥没有短信发送权限", False),
    "FailedOperation.SignatureIncorrectOrUnapproved": ("短信签名不存在或未审核通过，请检查签名", False),
    "FailedOperation.TemplateIncorrectOrUnapproved": ("短信模板不存在或未审核通过，请检查模板 ID", False),
    "FailedOperation.InsufficientBalanceInSmsPackage": ("短信套餐包余量不足，请购买套餐包", False),
    "FailedOperation.PhoneNumberInBlacklist": ("对方号码在黑名单中（已退订）", False),
    "FailedOperation.ContainSensitiveWord": ("短信内容含有敏感词", False),
    "FailedOperation.MissingSignatureList": ("没有可用的短信签名", False),
    "InvalidParameterValue.IncorrectPhoneNumber": ("手机号码格式不正确", False),
    "InvalidParameterValue.TemplateParameterFormatError": ("模板变量格式不正确", False),
    "InvalidParameterValue.TemplateParameterLengthLimit": ("模板变量超出长度限制", False),
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": ("模板变量不能包含网址", False),
    "InvalidParameterValue.SdkAppIdNotExist": ("SdkAppId 不存在", False),
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": ("SdkAppId 校验失败", False),
    "LimitExceeded.PhoneNumberDailyLimit": ("此号码今日接收短信已达上限", True),
    "LimitExceeded.PhoneNumberOneHourLimit": ("此号码一小时内接收短信已达上限", True),
    "LimitExceeded.PhoneNumberThirtySecondLimit": ("此号码 30 秒内接收短信已达上限", True),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": ("此号码今日接收相同内容已达上限", True),
    "LimitExceeded.DeliveryFrequencyLimit": ("发送太频繁", True),
    "LimitExceeded.AppDailyLimit": ("应用今日发送量已达上限", True),
    "RequestLimitExceeded": ("请求过于频繁，稍后将重试", True),
    "InternalError.Timeout": ("腾讯云短信服务超时", True),
    "InternalError.RequestTimeException": ("电脑时间不准确，请校准系统时间", False),
}
_TENCENT_RETRYABLE_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError", "ResourceUnavailable")


def aliyun_error(code: str, detail: str = "") -> SmsError:
    message, retryable = ALIYUN_ERRORS.get(code) or (
        "短信平台返回错误", code.startswith(("isp.", "Throttling", "ServiceUnavailable", "InternalError")))
    return SmsError(code, f"阿里云短信：{message}。错误码 {code}", retryable, detail=detail)


def tencent_error(code: str, detail: str = "") -> SmsError:
    message, retryable = TENCENT_ERRORS.get(code) or (
        "短信平台返回错误", code.startswith(_TENCENT_RETRYABLE_PREFIXES))
    return SmsError(code, f"腾讯云短信：{message}。错误码 {code}", retryable, detail=detail)


# --- HTTP ------------------------------------------------------------------------------------------

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float, platform: str) -> tuple[int, Any]:
    """(HTTP status, parsed JSON) — a 4xx/5xx with a JSON body is returned, not raised."""
    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise SmsError("NETWORK", f"{platform}：无法连接短信平台，请检查网络，稍后将重试", True,
                       detail=str(reason)) from e
    try:
        return status, json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        retryable = status >= 500 or status in (408, 429)
        raise SmsError(f"HTTP {status}", f"{platform}：短信平台返回了无法识别的应答（HTTP {status}）",
                       retryable, detail=raw[:200].decode("utf-8", "replace")) from None


def _digits(phone: str) -> str:
    phone = re.sub(r"[\s\-()]", "", phone)
    return ("+" if phone.startswith("+") else "") + re.sub(r"\D", "", phone)


class AliyunSms:
    """Aliyun Dysms ``SendSms`` (RPC style, POST form). ``clock`` / ``nonce`` are for tests."""

    def __init__(self, access_key_id: str, access_key_secret: str, sign_name: str, *,
                 endpoint: str = ALIYUN_ENDPOINT, region: str = "cn-hangzhou", timeout: float = 10.0,
                 clock: Callable[[], float] = time.time,
                 nonce: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.access_key_id, self.access_key_secret, self.sign_name = access_key_id, access_key_secret, sign_name
        self.endpoint, self.region, self.timeout = endpoint, region, timeout
        self._clock, self._nonce = clock, nonce

    def request_params(self, phone: str, template: str, params: Mapping[str, str] | None) -> dict[str, str]:
        """The signed parameters of one ``SendSms`` (``Signature`` included)."""
        p = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON",
            "RegionId": self.region, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(), "SignatureVersion": "1.0",
            "Timestamp": aliyun_timestamp(self._clock()), "Version": "2017-05-25",
            "PhoneNumbers": _digits(phone), "SignName": self.sign_name, "TemplateCode": template,
        }
        if params:
            p["TemplateParam"] = json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))
        p["Signature"] = aliyun_signature(p, self.access_key_secret, "POST")
        return p

    def send(self, phone: str, template: str, params: Mapping[str, str] | None = None) -> str:
        """Send one templated SMS; the ``BizId``. Raises ``SmsError``."""
        body = urllib.parse.urlencode(self.request_params(phone, template, params)).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "Accept": "application/json"}
        status, answer = _post(self.endpoint, body, headers, self.timeout, "阿里云短信")
        if not isinstance(answer, dict):
            raise SmsError(f"HTTP {status}", "阿里云短信：应答格式不正确", status >= 500)
        code = str(answer.get("Code", ""))
        if code == "OK":
            return str(answer.get("BizId", ""))
        if not code:
            raise SmsError(f"HTTP {status}", f"阿里云短信：请求失败（HTTP {status}）", status >= 500,
                           detail=json.dumps(answer, ensure_ascii=False))
        raise aliyun_error(code, str(answer.get("Message", "")))


class TencentSms:
    """Tencent Cloud SMS ``SendSms`` (API 3.0, version 2021-01-11, TC3-HMAC-SHA256)."""

    service = "sms"

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str, *,
                 endpoint: str = TENCENT_ENDPOINT, region: str = "ap-guangzhou", timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id
        self.sign_name, self.endpoint, self.region, self.timeout = sign_name, endpoint, region, timeout
        self._clock = clock

    @staticmethod
    def phone_number(phone: str) -> str:
        """E.164 as Tencent wants it: ``13800138000`` → ``+8613800138000``."""
        phone = _digits(phone)
        if phone.startswith("+"):
            return phone
        if phone.startswith("86") and len(phone) == 13:
            return "+" + phone
        return "+86" + phone

    @staticmethod
    def template_values(params: Mapping[str, str] | None) -> list[str]:
        if not params:
            return []
        keys = list(params)
        if all(k.isdigit() for k in keys):
            keys.sort(key=int)
        return [str(params[k]) for k in keys]

    def request(self, phone: str, template: str, params: Mapping[str, str] | None) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of one signed ``SendSms``."""
        body = json.dumps({
            "PhoneNumberSet": [self.phone_number(phone)], "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name, "TemplateId": template,
            "TemplateParamSet": self.template_values(params),
        }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())
        signed = {"Content-Type": JSON_CONTENT_TYPE, "Host": urllib.parse.urlsplit(self.endpoint).netloc,
                  "X-TC-Action": "SendSms"}
        headers = dict(signed)
        headers.update({"X-TC-Timestamp": str(timestamp), "X-TC-Version": TENCENT_VERSION,
                        "X-TC-Region": self.region})
        headers["Authorization"] = tc3_authorization(self.secret_id, self.secret_key, service=self.service,
                                                     timestamp=timestamp, payload=body, headers=signed)
        return body, headers

    def send(self, phone: str, template: str, params: Mapping[str, str] | None = None) -> str:
        """Send one templated SMS; the ``SerialNo``. Raises ``SmsError``."""
        body, headers = self.request(phone, template, params)
        status, answer = _post(self.endpoint, body, headers, self.timeout, "腾讯云短信")
        response = answer.get("Response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise SmsError(f"HTTP {status}", f"腾讯云短信：应答格式不正确（HTTP {status}）", status >= 500)
        error = response.get("Error")
        if isinstance(error, dict):
            raise tencent_error(str(error.get("Code", "")), str(error.get("Message", "")))
        statuses = response.get("SendStatusSet") or []
        if not statuses:
            raise SmsError("EMPTY", "腾讯云短信：应答中没有发送状态", True)
        first = statuses[0]
        if first.get("Code") == "Ok":
            return str(first.get("SerialNo", ""))
        raise tencent_error(str(first.get("Code", "")), str(first.get("Message", "")))
