"""Aliyun / Tencent Cloud SMS: signatures against the published examples, sends through the local server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from devices.simulators.sms_platform import SmsPlatformServer
from devices.sms import SmsError
from devices.sms.platforms import (
    AliyunSms,
    TencentSms,
    aliyun_signature,
    aliyun_string_to_sign,
    percent_encode,
    tc3_authorization,
    tc3_canonical_request,
    tc3_date,
    tc3_signature,
    tc3_string_to_sign,
)

ALIYUN_ID, ALIYUN_SECRET = "LTAI-test-id", "aliyun-test-secret"
TENCENT_ID, TENCENT_KEY, APP_ID = "AKID-test-id", "tencent-test-key", "1400000000"

# --- Aliyun RPC signature: the two published examples ---------------------------------------------


def test_aliyun_rpc_signature_doc_example() -> None:
    """Aliyun "RPC signature mechanism" (签名机制) example: ECS DescribeRegions, testid / testsecret."""
    params = {"Timestamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
              "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
              "SignatureVersion": "1.0"}
    assert aliyun_string_to_sign(params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26")
    assert aliyun_signature(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_signature({**params, "Signature": "ignored"}, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_dysms_sendsms_doc_example() -> None:
    """Dysms signature document (help.aliyun.com/document_detail/56189): testId / testSecret."""
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
              "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
              "Version": "2017-05-25"}
    assert aliyun_string_to_sign(params) == (
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
        "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C"
        "%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594"
        "%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466"
        "%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522"
        "%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25")
    assert aliyun_signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_rules() -> None:
    assert percent_encode("a b*c~d-_.") == "a%20b%2Ac~d-_."
    assert percent_encode("/=&+:") == "%2F%3D%26%2B%3A"
    assert percent_encode("美") == "%E7%BE%8E"


def test_aliyun_client_parameters_are_complete_and_signed_for_post() -> None:
    client = AliyunSms("id", "secret", "美客诊所", clock=lambda: 1700000000, nonce=lambda: "n-1")
    p = client.request_params("138 0013 8000", "SMS_1", {"name": "张三"})
    assert p["Timestamp"] == "2023-11-14T22:13:20Z" and p["SignatureNonce"] == "n-1"
    assert {k: p[k] for k in ("Action", "Format", "Version", "RegionId", "SignatureMethod", "SignatureVersion")} == {
        "Action": "SendSms", "Format": "JSON", "Version": "2017-05-25", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0"}
    assert p["PhoneNumbers"] == "13800138000" and p["TemplateParam"] == '{"name":"张三"}'
    assert p["Signature"] == aliyun_signature(p, "secret", "POST") != aliyun_signature(p, "secret", "GET")


# --- Tencent TC3-HMAC-SHA256: the published CVM DescribeInstances examples -------------------------

DOC_PAYLOAD = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_TIMESTAMP = 1551113065


def test_tc3_current_doc_example() -> None:
    """cloud.tencent.com/document/api/213/30654 (signing x-tc-action too): the masked key is 32 '*'."""
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com",
               "X-TC-Action": "DescribeInstances"}
    canonical = tc3_canonical_request(DOC_PAYLOAD, headers)
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n"
        "x-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    to_sign = tc3_string_to_sign(canonical, DOC_TIMESTAMP, "cvm")
    assert to_sign == ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                       "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84")
    secret_key, secret_id = "*" * 32, "AKID" + "*" * 32
    assert tc3_signature(secret_key, to_sign, DOC_TIMESTAMP, "cvm") == (
        "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f")
    assert tc3_authorization(secret_id, secret_key, service="cvm", timestamp=DOC_TIMESTAMP,
                             payload=DOC_PAYLOAD.encode(), headers=headers) == (
        f"TC3-HMAC-SHA256 Credential={secret_id}/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-action, "
        "Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f")


@pytest.mark.parametrize(("secret_key", "signature"), [
    ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"),
    ("Gu5t9xGARNpq86cd98joQYCN3*******", "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
])
def test_tc3_earlier_doc_examples(secret_key: str, signature: str) -> None:
    """The earlier editions signed only content-type and host (string to sign hash 5ffe6a04…)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"}
    to_sign = tc3_string_to_sign(tc3_canonical_request(DOC_PAYLOAD, headers), DOC_TIMESTAMP, "cvm")
    assert to_sign.endswith("\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    assert tc3_signature(secret_key, to_sign, DOC_TIMESTAMP, "cvm") == signature


def test_tc3_date_is_utc() -> None:
    assert tc3_date(DOC_TIMESTAMP) == "2019-02-25"  # 2019-02-26 00:44 in Beijing


def test_tencent_request_shape() -> None:
    client = TencentSms("id", "key", APP_ID, "美客诊所", clock=lambda: DOC_TIMESTAMP)
    body, headers = client.request("13800138000", "1234567", {"2": "10:00", "1": "张三"})
    assert body.decode() == ('{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400000000",'
                             '"SignName":"美客诊所","TemplateId":"1234567","TemplateParamSet":["张三","10:00"]}')
    assert headers["Host"] == "sms.tencentcloudapi.com" and headers["X-TC-Action"] == "SendSms"
    assert (headers["X-TC-Version"], headers["X-TC-Region"], headers["X-TC-Timestamp"]) == (
        "2021-01-11", "ap-guangzhou", "1551113065")
    assert headers["Authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=id/2019-02-25/sms/tc3_request, SignedHeaders=content-type;host;x-tc-action, ")
    assert TencentSms.phone_number("8613800138000") == TencentSms.phone_number("+86 138-0013-8000") == "+8613800138000"
    assert TencentSms.template_values({"name": "李", "time": "9点"}) == ["李", "9点"]


# --- end to end through the local server -----------------------------------------------------------


@pytest.fixture
def server() -> Iterator[SmsPlatformServer]:
    s = SmsPlatformServer(aliyun=(ALIYUN_ID, ALIYUN_SECRET), tencent=(TENCENT_ID, TENCENT_KEY), sdk_app_id=APP_ID)
    yield s
    s.close()


def aliyun(server: SmsPlatformServer, secret: str = ALIYUN_SECRET, **kw: object) -> AliyunSms:
    return AliyunSms(ALIYUN_ID, secret, "美客诊所", endpoint=server.url, timeout=3, **kw)  # type: ignore[arg-type]


def tencent(server: SmsPlatformServer, key: str = TENCENT_KEY, **kw: object) -> TencentSms:
    return TencentSms(TENCENT_ID, key, APP_ID, "美客诊所", endpoint=server.url, timeout=3, **kw)  # type: ignore[arg-type]


def test_aliyun_send_end_to_end(server: SmsPlatformServer) -> None:
    biz_id = aliyun(server).send("13800138000", "SMS_100", {"name": "王女士", "time": "明天 10:00"})
    assert biz_id
    [sms] = server.messages
    assert (sms.platform, sms.phone, sms.sign_name, sms.template) == ("aliyun", "13800138000", "美客诊所", "SMS_100")
    assert sms.params == {"name": "王女士", "time": "明天 10:00"}


def test_tencent_send_end_to_end(server: SmsPlatformServer) -> None:
    serial = tencent(server).send("13800138000", "1234567", {"1": "王女士", "2": "明天 10:00"})
    assert serial
    [sms] = server.messages
    assert (sms.platform, sms.phone, sms.template, sms.params) == (
        "tencent", "+8613800138000", "1234567", ["王女士", "明天 10:00"])


def test_wrong_secrets_are_rejected_by_signature(server: SmsPlatformServer) -> None:
    with pytest.raises(SmsError) as info:
        aliyun(server, "wrong-secret").send("13800138000", "SMS_100")
    assert (info.value.code, info.value.retryable) == ("SignatureDoesNotMatch", False)
    assert "AccessKey Secret 不正确" in str(info.value)
    with pytest.raises(SmsError) as info:
        tencent(server, "wrong-key").send("13800138000", "1234567")
    assert (info.value.code, info.value.retryable) == ("AuthFailure.SignatureFailure", False)
    assert "SecretKey 不正确" in str(info.value)
    with pytest.raises(SmsError) as info:
        AliyunSms("LTAI-unknown", ALIYUN_SECRET, "x", endpoint=server.url).send("13800138000", "SMS_100")
    assert info.value.code == "InvalidAccessKeyId.NotFound" and not info.value.retryable
    assert server.messages == []


def test_clock_skew_is_refused_like_the_real_platforms(server: SmsPlatformServer) -> None:
    late = lambda: server.clock() - 3600  # noqa: E731
    with pytest.raises(SmsError) as info:
        aliyun(server, clock=late).send("13800138000", "SMS_100")
    assert info.value.code == "InvalidTimeStamp.Expired" and "系统时间" in str(info.value)
    with pytest.raises(SmsError) as info:
        tencent(server, clock=late).send("13800138000", "1234567")
    assert info.value.code == "AuthFailure.SignatureExpire" and not info.value.retryable


def test_reused_nonce_is_refused_but_retryable(server: SmsPlatformServer) -> None:
    client = aliyun(server, nonce=lambda: "same")
    client.send("13800138000", "SMS_100")
    with pytest.raises(SmsError) as info:
        client.send("13800138000", "SMS_100")
    assert (info.value.code, info.value.retryable) == ("SignatureNonceUsed", True)


def test_unknown_template_sign_and_bad_numbers() -> None:
    with SmsPlatformServer(aliyun=(ALIYUN_ID, ALIYUN_SECRET), tencent=(TENCENT_ID, TENCENT_KEY),
                           sdk_app_id=APP_ID, templates={"SMS_100", "1234567"}, sign_names={"美客诊所"}) as s:
        for send, code in (
            (lambda: aliyun(s).send("13800138000", "SMS_999"), "isv.SMS_TEMPLATE_ILLEGAL"),
            (lambda: AliyunSms(ALIYUN_ID, ALIYUN_SECRET, "别家", endpoint=s.url).send("13800138000", "SMS_100"),
             "isv.SMS_SIGNATURE_ILLEGAL"),
            (lambda: aliyun(s).send("12345", "SMS_100"), "isv.MOBILE_NUMBER_ILLEGAL"),
            (lambda: tencent(s).send("13800138000", "999"), "FailedOperation.TemplateIncorrectOrUnapproved"),
            (lambda: tencent(s).send("12345", "1234567"), "InvalidParameterValue.IncorrectPhoneNumber"),
        ):
            with pytest.raises(SmsError) as info:
                send()
            assert (info.value.code, info.value.retryable) == (code, False)
        assert s.messages == []


@pytest.mark.parametrize(("code", "retryable", "words"), [
    ("isv.BUSINESS_LIMIT_CONTROL", True, "限流"),
    ("isv.DAY_LIMIT_CONTROL", True, "上限"),
    ("isv.AMOUNT_NOT_ENOUGH", False, "余额不足"),
    ("isv.SMS_TEMPLATE_ILLEGAL", False, "模板"),
    ("isp.SYSTEM_ERROR", True, "系统错误"),
    ("ServiceUnavailable", True, "暂不可用"),
    ("isv.SOMETHING_NEW", False, "isv.SOMETHING_NEW"),
])
def test_aliyun_error_mapping(server: SmsPlatformServer, code: str, retryable: bool, words: str) -> None:
    server.fail_with(code)
    with pytest.raises(SmsError) as info:
        aliyun(server).send("13800138000", "SMS_100")
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert str(info.value).startswith("阿里云短信：") and words in str(info.value)
    assert aliyun(server).send("13800138000", "SMS_100")  # only the next request failed


@pytest.mark.parametrize(("code", "retryable", "words"), [
    ("LimitExceeded.PhoneNumberDailyLimit", True, "今日"),  # per number, in SendStatusSet
    ("LimitExceeded.PhoneNumberThirtySecondLimit", True, "30 秒"),
    ("FailedOperation.TemplateIncorrectOrUnapproved", False, "模板"),  # request error
    ("FailedOperation.SignatureIncorrectOrUnapproved", False, "签名"),
    ("FailedOperation.InsufficientBalanceInSmsPackage", False, "套餐包"),
    ("RequestLimitExceeded", True, "频繁"),
    ("InternalError.Timeout", True, "超时"),
    ("InternalError.SomethingNew", True, "InternalError.SomethingNew"),
])
def test_tencent_error_mapping(server: SmsPlatformServer, code: str, retryable: bool, words: str) -> None:
    server.fail_with(code)
    with pytest.raises(SmsError) as info:
        tencent(server).send("13800138000", "1234567")
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert str(info.value).startswith("腾讯云短信：") and words in str(info.value)


def test_network_down_is_retryable() -> None:
    with SmsPlatformServer() as s:
        url = s.url
    for client in (AliyunSms("a", "b", "c", endpoint=url, timeout=2),
                   TencentSms("a", "b", APP_ID, "c", endpoint=url, timeout=2)):
        with pytest.raises(SmsError) as info:
            client.send("13800138000", "1")
        assert (info.value.code, info.value.retryable) == ("NETWORK", True)
        assert "无法连接短信平台" in str(info.value)


def test_gateway_error_page_is_retryable() -> None:
    class BadGateway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>502 Bad Gateway</html>")

        def log_message(self, *_args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), BadGateway)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        with pytest.raises(SmsError) as info:
            AliyunSms("a", "b", "c", endpoint=url, timeout=2).send("13800138000", "SMS_1")
        assert (info.value.code, info.value.retryable) == ("HTTP 502", True)
    finally:
        httpd.shutdown()
        httpd.server_close()
