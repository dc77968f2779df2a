"""Personal numbers (issue 14): one mask for every kind of number, numbers typed in other digit forms
stored in ASCII (and the ones already stored, by migration 0013), the ID card's sex digit, and prefix
searches that find names outside the Basic Multilingual Plane."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from meike import clock
from meike.db import Clinic, migrate
from meike.db.prefix import upper_bound
from meike.errors import ValidationError
from meike.models import Customer
from meike.permissions import Actor
from meike.rules.validation import id_card_error, mask_number, mobile_error, normalise_mobile
from meike.services import accounts, cashier, customers, dictionaries, records
from meike.services.customers import CustomerQuery
from meike.services.dictionaries import Kind

TODAY = date(2026, 11, 24)
ID_F = "11010519491231002X"  # 17th digit 2: a woman
ID_M = "110105194912310011"  # 17th digit 1: a man


# --- one mask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("", ""),
        ("110", "***"),  # short numbers: nothing shown
        ("1234", "****"),
        ("95555", "****5"),  # 5–7 digits: 4 hidden, the rest of the end shown
        ("123456", "****56"),
        ("6234567", "****567"),  # a 7-digit landline (was shown in full)
        ("62345678", "****5678"),  # an 8-digit landline without its area code (was 623****5678: 7 of 8)
        ("123456789", "*****6789"),  # QQ
        ("1234567890", "******7890"),
        ("13800138000", "138****8000"),  # a mobile
        ("02167891234", "021****1234"),  # a landline with its area code
        ("075512345678", "075*****5678"),
        ("8602167891234", "860******1234"),
        ("86075512345678", "860*******5678"),
        ("110105194912310", "***********2310"),  # the old 15-digit ID card
        (ID_F, "**************002X"),  # the birth date hidden with everything else
        ("6222020200112233445", "***************3445"),  # a bank card
        (" 13800138000 ", "138****8000"),
    ],
)
def test_one_mask_for_every_kind_of_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@given(st.text(alphabet="0123456789X", max_size=24))
def test_a_mask_hides_at_least_four_and_shows_at_most_the_last_four_and_a_prefix(number: str) -> None:
    masked = mask_number(number)
    assert len(masked) == len(number)
    hidden = masked.count("*")
    assert hidden >= min(4, len(number))
    shown_head = len(masked) - len(masked.lstrip("0123456789X"))
    assert shown_head in (0, 3) and (shown_head == 0 or 11 <= len(number) <= 14)
    assert len(number) - hidden - shown_head <= 4
    assert masked.endswith(number[len(number) - (len(number) - hidden - shown_head):])


# --- numbers typed in other forms ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("13８００１３８０００", "13800138000"), ("１３８\u30000013\u30008000", "13800138000"),
     ("＋８６ １３８－００１３－８０００", "13800138000"), ("𝟏𝟑𝟖𝟎𝟎𝟏𝟑𝟖𝟎𝟎𝟎", "13800138000")],
)
def test_a_mobile_typed_full_width_is_a_mobile(typed: str, stored: str) -> None:
    assert normalise_mobile(typed) == stored and mobile_error(typed) is None


def test_digits_of_other_scripts_are_refused_with_a_message() -> None:
    assert mobile_error("١٣٨٠٠١٣٨٠٠٠") == "手机号只能用数字 0–9 填写"
    assert id_card_error("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", today=TODAY) == "身份证号只能用数字 0–9 和 X 填写"
    # full-width, with a full-width X (upper or lower case): valid, not "校验位不正确"
    assert id_card_error("１１０１０５１９４９１２３１００２Ｘ", today=TODAY) is None
    assert id_card_error("１１０１０５１９４９１２３１００２ｘ", today=TODAY) is None


def test_every_number_typed_is_stored_in_ascii_and_found_as_such(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(
        demo_clinic, gl, name="宽字符", mobile="13８０１２３９８７６", id_card="１１０１０５１９４９１２３１００２ｘ",
        qq="１２３４５６７８", card_no="ＶＩＰ－００１")
    with demo_clinic.read() as s:
        c = s.get(Customer, cid)
        assert c is not None
        assert (c.mobile, c.mobile_last4, c.id_card, c.qq, c.card_no) == (
            "13801239876", "9876", ID_F, "12345678", "VIP-001")
        assert c.birthday == date(1949, 12, 31)
    assert cid in [r.id for r in customers.search_customers(demo_clinic, gl, text="9876")]
    with pytest.raises(customers.DuplicateMobile):  # the duplicate check sees the same number
        customers.register_customer(demo_clinic, gl, name="又一个", mobile="13801239876")
    with pytest.raises(ValidationError) as e:
        customers.register_customer(demo_clinic, gl, name="阿拉伯数字", mobile="١٣٨٠٠١٣٨٠٠١",
                                    id_card="١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", qq="١٢٣", card_no="٢٦١١")
    assert e.value.errors == {"mobile": "手机号只能用数字 0–9 填写", "id_card": "身份证号只能用数字 0–9 和 X 填写",
                              "qq": "QQ 号只能用数字 0–9 填写", "card_no": "卡号中的数字只能用 0–9 填写"}
    # a card number of the clinic's own making stays as it was allowed before, in ASCII where typed wide
    other = customers.register_customer(demo_clinic, gl, name="会员卡", mobile="13801239877", card_no="会员００１")
    with demo_clinic.read() as s:
        assert s.scalar(select(Customer.card_no).where(Customer.id == other)) == "会员001"
    # Editing keeps the rule: a full-width QQ becomes ASCII.
    detail = customers.get_customer(demo_clinic, gl, cid)
    values = {k: getattr(detail, k) for k in customers.PROFILE_FIELDS}
    customers.update_customer(demo_clinic, gl, cid, dict(values, qq="８７６５４３２１"))
    with demo_clinic.read() as s:
        c = s.get(Customer, cid)
        assert c is not None and (c.qq, c.id_card, c.birthday) == ("87654321", ID_F, date(1949, 12, 31))


def test_the_sex_digit_of_the_id_card_must_agree_with_the_gender(demo_clinic: Clinic, gl: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        customers.register_customer(demo_clinic, gl, name="男", mobile="13600001111", gender="F", id_card=ID_M)
    assert e.value.errors == {"gender": "性别与身份证号不一致（身份证号为男性）"}
    with pytest.raises(ValidationError) as e:
        customers.register_customer(demo_clinic, gl, name="女", mobile="13600001112", gender="M", id_card=ID_F)
    assert e.value.errors == {"gender": "性别与身份证号不一致（身份证号为女性）"}
    customers.register_customer(demo_clinic, gl, name="男", mobile="13600001111", gender="M", id_card=ID_M)
    customers.register_customer(demo_clinic, gl, name="未知", mobile="13600001113", gender="U", id_card=ID_F)


def test_migration_0013_puts_the_numbers_already_stored_in_ascii(demo_clinic: Clinic, gl: Actor) -> None:
    """Numbers the old checks let through (full-width, Arabic-Indic), stored before 0013: put in ASCII
    with their last 4; a card number that would become another customer's keeps its spelling."""
    a = customers.register_customer(demo_clinic, gl, name="甲", mobile="13811112222", id_card=ID_F, qq="12345")
    b = customers.register_customer(demo_clinic, gl, name="乙", mobile="13811113333", card_no="B-100")
    c = customers.register_customer(demo_clinic, gl, name="丙", mobile="13811114444", card_no="A-100")
    stored = {
        a: {"mobile": "13８１１１１２２２２", "mobile_last4": "２２２２", "id_card": "١١٠١٠٥١٩٤٩١٢٣١٠٠٢ｘ", "qq": "１２３４５"},
        # b's card number in ASCII is c's: kept as it is
        b: {"mobile": "+86 １３８ １１１１ ３３３３", "mobile_last4": "３３３３", "card_no": "Ａ-１００"},
    }
    with demo_clinic.write() as s:
        for cid, values in stored.items():
            s.execute(update(Customer).where(Customer.id == cid).values(**values))
    assert customers.search_customers(demo_clinic, gl, text="2222") == []  # what the old data did
    migrate.run(demo_clinic, command.downgrade, "0012")
    migrate.run(demo_clinic, command.upgrade, "head")
    with demo_clinic.read() as s:
        rows = {r.id: (r.mobile, r.mobile_last4, r.id_card, r.qq, r.card_no)
                for r in s.scalars(select(Customer).where(Customer.id.in_([a, b, c])))}
    card_a = rows[a][4]
    assert rows == {a: ("13811112222", "2222", ID_F, "12345", card_a),
                    b: ("13811113333", "3333", "", "", "Ａ-１００"),
                    c: ("13811114444", "4444", "", "", "A-100")}
    assert [r.id for r in customers.search_customers(demo_clinic, gl, text="2222")] == [a]
    assert [r.id for r in customers.search_customers(demo_clinic, gl, text="13811113333")] == [b]


# --- prefixes beyond the Basic Multilingual Plane ------------------------------------------------


@pytest.mark.parametrize(("text", "bound"), [
    ("王", "玌"), ("zs", "zt"), ("138", "139"), ("王\U00020bb7", "王\U00020bb8"), ("a\U0010ffff", "b"), ("\ud7ff", "\ue000"),
    ("\U0010ffff", "\U0010ffff\U0010ffff")])
def test_upper_bound(text: str, bound: str) -> None:
    assert upper_bound(text) == bound


@given(st.text(min_size=1, max_size=4), st.text(max_size=4))
def test_a_prefix_range_holds_exactly_the_strings_with_that_prefix(prefix: str, rest: str) -> None:
    if set(prefix) == {"\U0010ffff"}:
        return  # no string bounds those: the documented nearest one is used
    candidate = prefix + rest
    assert prefix <= candidate < upper_bound(prefix)
    other = rest + "x"
    assert (prefix <= other < upper_bound(prefix)) == other.startswith(prefix)


def test_a_name_prefix_finds_names_outside_the_bmp(demo_clinic: Clinic, gl: Actor) -> None:
    """王 finds 王𠮷 (CJK Extension B) and 王😀: the old bound ``"王" + "\\uffff"`` sorted below them."""
    ids = {name: customers.register_customer(demo_clinic, gl, name=name, mobile=f"1377777{n:04d}")
           for n, name in enumerate(["王𠮷", "王😀明", "𠮷野家", "王"])}
    for text, names in (("王", {"王𠮷", "王😀明", "王"}), ("王𠮷", {"王𠮷"}), ("𠮷", {"𠮷野家"}), ("王😀", {"王😀明"})):
        expected = {ids[n] for n in names}
        fast = {r.id for r in customers.search_customers(demo_clinic, gl, text=text, limit=500)}
        grid = {r.id for r in customers.search_customers(
            demo_clinic, gl, query=CustomerQuery(text=text, date_from=date(2000, 1, 1)), limit=500)}
        assert expected <= fast and expected <= grid, text
        assert not (set(ids.values()) - expected) & (fast | grid), text
    # the cashier's order list finds them by name too
    item = next(e.id for e in dictionaries.list_entries(demo_clinic, gl, Kind.ITEM) if e.name == "双眼皮")
    doctor = next(e.id for e in dictionaries.list_entries(demo_clinic, gl, Kind.STAFF) if e.name == "吴建国")
    records.add_treatment(demo_clinic, gl, ids["王𠮷"], item_id=item, doctor_id=doctor,
                          performed_on=clock.now().date(), price_fen=780000)
    assert [o.customer_id for o in cashier.list_orders(demo_clinic, gl, status="new", text="王")
            if o.customer_id == ids["王𠮷"]] == [ids["王𠮷"]]


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "gl", "123")


def test_a_refused_form_says_nothing_about_the_mobile(demo_clinic: Clinic, gl: Actor) -> None:
    """Review of issue 14/3 and 14/9: a registration or edit refused for another field (an empty name, an
    appointment in the past) used to answer whether the number was on file, and wrote nothing: a free
    oracle that rebuilt a masked mobile in a few thousand tries. The duplicate check now comes last."""
    from datetime import datetime

    taken = "13655550001"
    customers.register_customer(demo_clinic, gl, name="已登记", mobile=taken)
    for kwargs in ({"name": ""}, {"name": "新人", "appointment_at": datetime(2000, 1, 1)}):
        with pytest.raises(ValidationError) as e:
            customers.register_customer(demo_clinic, gl, mobile=taken, **kwargs)
        assert not isinstance(e.value, customers.DuplicateMobile) and "mobile" not in e.value.errors
    with pytest.raises(customers.DuplicateMobile):  # a valid form: the duplicate is named
        customers.register_customer(demo_clinic, gl, name="新人", mobile=taken)
    other = customers.register_customer(demo_clinic, gl, name="别人", mobile="13655550002")
    detail = customers.get_customer(demo_clinic, gl, other)
    values = {k: getattr(detail, k) for k in customers.PROFILE_FIELDS}
    with pytest.raises(ValidationError) as e:
        customers.update_customer(demo_clinic, gl, other, dict(values, mobile=taken, name=""))
    assert not isinstance(e.value, customers.DuplicateMobile) and "mobile" not in e.value.errors
    with pytest.raises(customers.DuplicateMobile):
        customers.update_customer(demo_clinic, gl, other, dict(values, mobile=taken))
