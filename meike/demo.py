"""The demo clinic: realistic dictionaries, staff, the manual's accounts and a few hundred customers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from meike import clock
from meike.db import Clinic
from meike.models import Customer, User, UserGrant
from meike.permissions import UNCHECKED, Actor, DataScope, Page, Right, page_code, right_code
from meike.rules.pinyin import initials
from meike.services import accounts, dictionaries, promotions, system
from meike.services.dictionaries import Kind

CLINIC_NAME = "美客示范医疗美容门诊部"

DEPARTMENTS = ["整形外科", "皮肤科", "微整形科", "口腔科", "网络部", "客服部", "前台", "收银", "市场部"]
CATEGORIES = ["手术", "注射", "皮肤美容", "激光", "口腔", "产品"]
# name, price (yuan), minimum (yuan), category, department
ITEMS = [
    ("双眼皮", 8800, 6000, "手术", "整形外科"),
    ("开眼角", 6800, 4800, "手术", "整形外科"),
    ("隆鼻", 16800, 12000, "手术", "整形外科"),
    ("鼻综合", 38000, 28000, "手术", "整形外科"),
    ("吸脂", 12800, 9000, "手术", "整形外科"),
    ("眼袋去除", 7800, 5600, "手术", "整形外科"),
    ("玻尿酸 1ml", 3800, 2600, "注射", "微整形科"),
    ("肉毒素除皱", 2800, 1800, "注射", "微整形科"),
    ("瘦脸针", 3200, 2200, "注射", "微整形科"),
    ("水光针", 1280, 880, "注射", "微整形科"),
    ("热玛吉", 19800, 15800, "激光", "皮肤科"),
    ("超声刀", 12800, 9800, "激光", "皮肤科"),
    ("光子嫩肤", 980, 680, "激光", "皮肤科"),
    ("激光脱毛", 1680, 1200, "激光", "皮肤科"),
    ("小气泡清洁", 298, 198, "皮肤美容", "皮肤科"),
    ("果酸换肤", 680, 480, "皮肤美容", "皮肤科"),
    ("洗牙", 298, 198, "口腔", "口腔科"),
    ("牙齿美白", 1980, 1380, "口腔", "口腔科"),
    ("隐形矫正", 29800, 23800, "口腔", "口腔科"),
    ("修复面膜", 168, 128, "产品", "皮肤科"),
]
# name, department, roles
STAFF = [
    ("李静", "前台", ["onsite_consultant"]),
    ("王芳", "整形外科", ["onsite_consultant"]),
    ("陈晓", "皮肤科", ["onsite_consultant"]),
    ("刘洋", "网络部", ["online_consultant"]),
    ("赵敏", "网络部", ["online_consultant"]),
    ("孙丽", "客服部", ["customer_service"]),
    ("周婷", "客服部", ["customer_service"]),
    ("吴建国", "整形外科", ["doctor"]),
    ("郑华", "皮肤科", ["doctor"]),
    ("冯雪", "微整形科", ["doctor"]),
    ("何琳", "整形外科", ["nurse"]),
    ("马悦", "皮肤科", ["nurse"]),
    ("黄丹", "收银", ["cashier"]),
    ("林强", "市场部", ["driver"]),
]
CHANNELS = ["百度", "美团", "新氧", "抖音", "小红书", "大众点评", "老带新", "自然到院", "地推活动"]
INFO_SOURCES = ["网络搜索", "朋友介绍", "户外广告", "短视频", "电话咨询", "微信公众号"]
MEMBER_LEVELS = [("普通会员", 1000), ("银卡会员", 950), ("金卡会员", 900), ("钻石会员", 850)]
PAYMENT_METHODS = [
    ("现金", "cash"), ("银行卡", "card"), ("微信", "wechat"), ("支付宝", "alipay"),
    ("分期", "instalment"), ("预存余额", "prepaid"), ("定金", "deposit"), ("代金券", "coupon"),
    ("住院押金", "inpatient"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱"
GIVEN = "婷娜静丽敏燕芳霞秀娟英华慧巧美娜雪琳晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳妮宝贝初程梵罡恒鸿桦骅剑娇纪宽苛灵玛媚琪晴容睿烁堂唯威韦雯苇萱阅彦宇雨洋忠宗曼紫逸贤蝶菡绿蓝儿翠烟小轩"
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "156", "157", "158", "159", "166", "176", "177", "180", "181", "182",
                   "183", "185", "186", "187", "188", "189", "191", "198", "199"]


def random_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def random_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _add(clinic: Clinic, actor: Actor, kind: Kind, values: dict[str, object]) -> int:
    return dictionaries.add_entry(clinic, actor, kind, values)


def build(clinic: Clinic, *, customers: int = 300, seed: int = 20261123, now: datetime | None = None,
          activity: bool = True) -> None:
    """Fill an empty, migrated database with the demo clinic (and, with ``activity``, today's work)."""
    now = now or clock.now()
    rng = random.Random(seed)
    with clinic.write() as s:
        admin = User(username="admin", display_name="管理员", is_admin=True, data_scope="all",
                     password_hash=accounts.hash_password("admin"), created_at=now)
        s.add(admin)
        system.set_in(s, None, "clinic.name", CLINIC_NAME)
    # The dictionaries go in through the same services the settings page uses, audited as "demo".
    setup_actor = Actor(user_id=0, username="demo", display_name="示范数据", data_scope=DataScope.ALL,
                        grants=frozenset({page_code(Page.SETTINGS)}), account=UNCHECKED)  # no account yet
    dept = {n: _add(clinic, setup_actor, Kind.DEPARTMENT, {"name": n}) for n in DEPARTMENTS}
    cat = {n: _add(clinic, setup_actor, Kind.ITEM_CATEGORY, {"name": n}) for n in CATEGORIES}
    for name, price, minimum, c, d in ITEMS:
        _add(clinic, setup_actor, Kind.ITEM, {"name": name, "price_fen": price * 100, "min_price_fen": minimum * 100,
                                              "category_id": cat[c], "department_id": dept[d]})
    staff = {n: _add(clinic, setup_actor, Kind.STAFF, {"name": n, "department_id": dept[d], "roles": roles})
             for n, d, roles in STAFF}
    channels = [_add(clinic, setup_actor, Kind.CHANNEL, {"name": n}) for n in CHANNELS]
    for n in INFO_SOURCES:
        _add(clinic, setup_actor, Kind.INFO_SOURCE, {"name": n})
    levels = [_add(clinic, setup_actor, Kind.MEMBER_LEVEL, {"name": n, "discount_permille": p})
              for n, p in MEMBER_LEVELS]
    for n, k in PAYMENT_METHODS:
        _add(clinic, setup_actor, Kind.PAYMENT_METHOD, {"name": n, "kind": k})

    every_page = {page_code(p) for p in Page}
    with clinic.write() as s:
        users = [
            # The manual's ordinary account: every page, all customers, all supervisor rights.
            User(username="gl", display_name="总台", password_hash=accounts.hash_password("123"),
                 data_scope="all", department_id=dept["前台"], created_at=now,
                 grants=[UserGrant(code=c) for c in sorted(every_page | {right_code(r) for r in Right})]),
            User(username="kf", display_name="孙丽", password_hash=accounts.hash_password("123"),
                 data_scope="own", department_id=dept["客服部"], staff_id=staff["孙丽"], created_at=now,
                 grants=[UserGrant(code=page_code(p))
                         for p in (Page.DASHBOARD, Page.REGISTRATION, Page.CUSTOMERS, Page.PHONE)]),
            User(username="wl", display_name="刘洋", password_hash=accounts.hash_password("123"),
                 data_scope="department", department_id=dept["网络部"], staff_id=staff["刘洋"], created_at=now,
                 grants=[UserGrant(code=page_code(p)) for p in (Page.DASHBOARD, Page.REGISTRATION, Page.CUSTOMERS)]),
            User(username="sy", display_name="黄丹", password_hash=accounts.hash_password("123"),
                 data_scope="all", department_id=dept["收银"], staff_id=staff["黄丹"], created_at=now,
                 grants=[UserGrant(code=page_code(p)) for p in (Page.DASHBOARD, Page.CASHIER, Page.CUSTOMERS)]
                 + [UserGrant(code=right_code(Right.CLOSE_DAY))]),
        ]
        s.add_all(users)
        s.flush()
        registrars = [(u.id, u.department_id, u.staff_id) for u in users[:3]]
        cs_staff = [staff["孙丽"], staff["周婷"], staff["刘洋"], staff["赵敏"]]
        consultants = [staff["李静"], staff["王芳"], staff["陈晓"]]
        rows = []
        mobiles: set[str] = set()
        for i in range(customers):
            name = random_name(rng)
            mobile = random_mobile(rng)
            while mobile in mobiles:
                mobile = random_mobile(rng)
            mobiles.add(mobile)
            created = now - timedelta(days=rng.randrange(0, 365), minutes=rng.randrange(0, 600))
            user_id, dept_id, _ = rng.choice(registrars)
            rows.append({
                "card_no": f"{created:%y%m%d}{i:04d}", "name": name, "name_initials": initials(name),
                "gender": "F" if rng.random() < 0.85 else "M", "mobile": mobile, "mobile_last4": mobile[-4:],
                "department_id": dept_id, "registered_by_id": user_id, "cs_staff_id": rng.choice(cs_staff),
                "consultant_id": rng.choice(consultants) if rng.random() < 0.6 else None,
                "channel_id": rng.choice(channels), "info_source_id": None,
                "member_level_id": rng.choice(levels) if rng.random() < 0.3 else None,
                "notes": "", "created_at": created,
            })
        if rows:
            s.execute(insert(Customer), rows)
    # A promotion running this month (seed 004: a promotion item shows its promotional price).
    with clinic.read() as s:
        gl_user = s.get(User, users[0].id)
        assert gl_user is not None
        manager = accounts.actor_for(gl_user, accounts.account_link(clinic))
    photo = next(e.id for e in dictionaries.list_entries(clinic, manager, Kind.ITEM) if e.name == "光子嫩肤")
    promotions.add_promotion(clinic, manager, name="冬季嫩肤特惠", item_id=photo, price_fen=78_000,
                             starts_on=now.date() - timedelta(days=3), ends_on=now.date() + timedelta(days=27))
    if activity and customers >= 40:
        _today_at_the_clinic(clinic, rng, now)


def _today_at_the_clinic(clinic: Clinic, rng: random.Random, now: datetime) -> None:
    """Bookings, arrivals, consultations, treatments and payments, made through the services."""
    from meike.services import cashier, customers, followups, records, triage

    gl = accounts.authenticate(clinic, "gl", "123", now=now)
    ids = [r.id for r in customers.search_customers(clinic, gl, limit=60)]
    consultants = [i for i, _n in triage.consultants(clinic, gl)]
    doctors = records.staff_choices(clinic, gl, "doctor")
    items = dictionaries.list_entries(clinic, gl, Kind.ITEM)
    methods = {e.name: e.id for e in dictionaries.list_entries(clinic, gl, Kind.PAYMENT_METHOD)}
    tomorrow = now.replace(hour=10, minute=0, second=0) + timedelta(days=1)
    for n, cid in enumerate(ids[:12]):  # today's and tomorrow's appointments
        at = now + timedelta(minutes=30 * (n + 1)) if n < 6 else tomorrow + timedelta(minutes=30 * n)
        customers.book_appointment(clinic, gl, cid, appointment_at=at, items=rng.choice(items).name, now=now)
    for n, cid in enumerate(ids[12:30]):  # arrived today, assigned to a consultant
        triage.arrive(clinic, gl, cid, consultant_id=consultants[n % len(consultants)],
                      now=now - timedelta(minutes=20 * (n + 1)))
        item = rng.choice(items)
        records.add_consultation(clinic, gl, cid, content=f"咨询{item.name}，了解价格与恢复期", items=item.name,
                                 reminder_due=now.date() if n % 3 == 0 else None, reminder_assignee_id=gl.user_id,
                                 now=now)
        if n % 2 == 0:  # agreed: treatment today, charge to the cashier
            doctor = doctors[n % len(doctors)][0]
            records.add_treatment(clinic, gl, cid, item_id=item.id, doctor_id=doctor, performed_on=now.date(),
                                  now=now)
    for cid in ids[30:36]:  # earlier post-op patients whose follow-up calls are due
        followups.add_reminder(clinic, gl, cid, kind="postop", due=now.date(), note="术后第 7 天回访")
    for n, order in enumerate(cashier.list_orders(clinic, gl, status="new")[:4]):  # a few already paid
        method = ["微信", "支付宝", "银行卡", "现金"][n]
        cashier.settle(clinic, gl, order.id, payment_method_id=methods[method], amount_fen=order.total_fen,
                       idempotency_key=f"demo-{order.id}")
    # Customer accounts: a deposit, a prepaid top-up spent on part of a bill, a coupon, arrears.
    from meike.services import ledger

    dept = dictionaries.list_entries(clinic, gl, Kind.DEPARTMENT)[0].id
    ledger.top_up(clinic, gl, ids[12], account="deposit", tenders=[ledger.Tender(methods["微信"], 100_000)],
                  idempotency_key="demo-deposit", staff_id=consultants[0], department_id=dept, note="预约双眼皮定金")
    ledger.top_up(clinic, gl, ids[13], account="prepaid", tenders=[ledger.Tender(methods["银行卡"], 500_000)],
                  idempotency_key="demo-prepaid")
    ledger.sell_coupon(clinic, gl, ids[14], name="新客体验券", face_value_fen=20_000,
                       valid_until=now.date() + timedelta(days=90), tenders=[], idempotency_key="demo-coupon",
                       supervisor=accounts.verify_supervisor(clinic, "gl", "123", Right.APPROVE_PRICE, now=now))
    unpaid = cashier.list_orders(clinic, gl, status="new")
    if unpaid:  # half now, the rest owed 欠款
        order = unpaid[0]
        cashier.pay(clinic, gl, order.id, [ledger.Tender(methods["现金"], order.total_fen // 2)],
                    idempotency_key="demo-partial", allow_arrears=True)


def grant_new_pages(clinic: Clinic) -> None:
    """The demo's ``gl`` holds every page, also pages added after the demo database was built."""
    with clinic.write() as s:
        gl = s.scalar(select(User).where(User.username == "gl"))
        if gl is None:
            return
        missing = {page_code(p) for p in Page} - gl.grant_codes
        for code in sorted(missing):
            gl.grants.append(UserGrant(code=code))


def caller_mobile(clinic: Clinic) -> str | None:
    """A demo customer with history (consultations and treatments): the one the simulated modem rings."""
    from meike.models import Consultation, Treatment

    with clinic.read() as s:
        return s.scalar(select(Customer.mobile)
                        .join(Consultation, Consultation.customer_id == Customer.id)
                        .join(Treatment, Treatment.customer_id == Customer.id)
                        .order_by(Customer.id).limit(1)) \
            or s.scalar(select(Customer.mobile).order_by(Customer.id).limit(1))
