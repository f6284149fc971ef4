"""Parameters of the synthetic network: the planted truth lives here and is echoed in truth.params (money in CNY)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------
# Parameters of the generator (the planted truth lives here and is echoed in truth.params)
# ---------------------------------------------------------------------------------------------

LUNAR_NEW_YEAR: dict[int, date] = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}

SEASON_PEAKS = {6: 1.3, 11: 1.4, 12: 1.08}  # 618, Double 11, a mild December
SPRING_FESTIVAL_FACTOR = 0.65

SEGMENTS = ("key_distributor", "regional_wholesaler", "retail_dealer", "ecommerce_reseller")
SEGMENT_WEIGHTS = np.array([0.06, 0.16, 0.50, 0.28])
PRODUCT_LINES = ("phones", "accessories", "home_appliances", "smart_home", "online_bundle", "parts")
UNIT_PRICE_CNY = np.array([2500.0, 80.0, 1800.0, 400.0, 300.0, 40.0])
# Dirichlet mean of each segment's product mix (rows: SEGMENTS, columns: PRODUCT_LINES).
MIX_MEAN = np.array(
    [
        [0.25, 0.15, 0.20, 0.15, 0.10, 0.15],  # key_distributor: broad
        [0.04, 0.03, 0.55, 0.04, 0.02, 0.32],  # regional_wholesaler: bulk appliances + parts
        [0.50, 0.30, 0.06, 0.10, 0.02, 0.02],  # retail_dealer: mainstream phones + accessories
        [0.10, 0.20, 0.02, 0.07, 0.60, 0.01],  # ecommerce_reseller: online bundle
    ]
)
MIX_CONCENTRATION = 60.0
SIZE_MEDIAN_CNY = np.array([2_000_000.0, 400_000.0, 40_000.0, 80_000.0])  # expected monthly sales
SIZE_SIGMA = np.array([0.5, 0.5, 0.6, 0.6])
ORDER_DAYS_PER_MONTH = np.array([8.0, 1.3, np.nan, 6.0])  # retail dealers order on a regular cycle
DEALER_CYCLE_DAYS = (21, 42)
EXTRA_LINES = np.array([[3, 0.6], [1, 0.4], [3, 0.3], [3, 0.15]])  # lines = 1 + Binomial(n, p)
RETURN_SHARE_OF_ORDERS = 0.035  # return orders have one line: ~2% of lines
# channel_type probabilities by segment, columns in store.CHANNEL_TYPES order
CHANNEL_P = np.array(
    [
        # distributor wholesaler dealer retailer ecommerce key_account other
        [0.60, 0.00, 0.00, 0.00, 0.00, 0.40, 0.00],
        [0.20, 0.80, 0.00, 0.00, 0.00, 0.00, 0.00],
        [0.00, 0.00, 0.50, 0.45, 0.00, 0.00, 0.05],
        [0.00, 0.00, 0.00, 0.10, 0.85, 0.00, 0.05],
    ]
)
DISCOUNT_BY_CHANNEL = np.array([0.18, 0.20, 0.12, 0.08, 0.10, 0.22, 0.06])

REGIONS = ("East", "South", "North", "Central", "Southwest", "Northeast", "Northwest")
REGION_WEIGHTS = np.array([0.28, 0.20, 0.15, 0.13, 0.11, 0.07, 0.06])
REGION_CITIES: dict[str, tuple[tuple[str, str], ...]] = {
    "East": (("上海", "上海"), ("江苏", "南京"), ("江苏", "苏州"), ("浙江", "杭州"), ("浙江", "宁波"),
             ("山东", "济南"), ("山东", "青岛"), ("福建", "福州"), ("安徽", "合肥")),
    "South": (("广东", "广州"), ("广东", "深圳"), ("广东", "东莞"), ("广西", "南宁"), ("海南", "海口")),
    "North": (("北京", "北京"), ("天津", "天津"), ("河北", "石家庄"), ("山西", "太原"), ("内蒙古", "呼和浩特")),
    "Central": (("河南", "郑州"), ("湖北", "武汉"), ("湖南", "长沙"), ("江西", "南昌")),
    "Southwest": (("四川", "成都"), ("重庆", "重庆"), ("云南", "昆明"), ("贵州", "贵阳")),
    "Northeast": (("辽宁", "沈阳"), ("辽宁", "大连"), ("吉林", "长春"), ("黑龙江", "哈尔滨")),
    "Northwest": (("陕西", "西安"), ("甘肃", "兰州"), ("新疆", "乌鲁木齐"), ("宁夏", "银川")),
}
NAME_CHARS = list("华盛鑫达恒泰联创信隆通宏远金嘉汇丰瑞宝安佳博欣源诚宇誉天利新")
NAME_SUFFIX = {
    "distributor": ("商贸有限公司", "贸易有限公司"),
    "wholesaler": ("批发有限公司", "商贸有限公司"),
    "dealer": ("电器专卖店", "数码专卖店"),
    "retailer": ("电器商行", "数码店"),
    "ecommerce": ("电子商务有限公司", "网络科技有限公司"),
    "key_account": ("实业集团有限公司", "科技股份有限公司"),
    "other": ("经营部", "商行"),
}
XSS_NAME = "<img src=x onerror=alert(1)>"
SPECIAL_NAMES = {  # partner index -> name (escaping tests); applied when the network is large enough
    2: XSS_NAME,
    5: 'A&B "优选" 商贸 <总部>',
    7: "O'Brien & Sons 数码",
    11: '"诚信" & <华东> 电器',
}
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国文")
PHONE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 158, 159,
                           176, 177, 180, 181, 186, 187, 188, 189])

HEALTH_PHI = 0.95
HEALTH_SD = 0.065
HEALTH_SD0 = 0.15
SAT_SD_PARTNER = 4.0
BETA_REBATE = 0.04  # d ln(sales) / d rate (percentage points)
BASE_RATE_PP = (2.0, 3.0)  # up to 2024Q4, from 2025Q1
RATE_SWITCH = pd.Period("2025Q1", "Q")
PILOT_SHARE = 0.30
# Ledger program names: rows at the flat current rate (BASE_RATE_PP[1], from RATE_SWITCH, no pilot bump) name the
# program of config/incentives/synthetic_current.yaml, so the rebate audit recomputes them; the 2 pp rows before
# the switch and the pilot bumps were offers no program file describes (judged on their ledger due).
CURRENT_PROGRAM = "Flat volume rebate 3% (synthetic network, current)"
OTHER_PROGRAM = "volume_rebate"
UNDERPAID_SHARE = 0.10
UNDERPAID_QUARTER_P = 0.7
HAZARD = {"a0": -4.1, "b_sat": 0.6, "b_short": 0.5, "b_conf": 0.6, "b_trend": 3.0}
ACTION_EFFECTS: dict[str, float] = {
    "training": 0.10,
    "marketing_automation": 0.08,
    "incentive": 0.06,
    "visit": 0.04,
    "tiering": 0.03,
    "communication": 0.0,
}
ACTION_SHARE = 0.5
ACTION_NOTES = {
    "training": "新品知识培训",
    "marketing_automation": "开通营销自动化工具",
    "incentive": "专项激励政策",
    "visit": "区域经理拜访",
    "tiering": "调整合作等级",
    "communication": "季度沟通会",
}
COURSES = ("新品知识培训", "销售技巧", "售后服务规范", "数字化工具", "价格政策解读")
CONFLICT_TYPES = ("price", "territory", "customer_ownership", "other")
COMMENTS_LOW = ("返利到账太慢", "价格冲突严重", "考虑更换品牌", "支持不够")
COMMENTS_MID = ("总体还行", "希望加快发货", "培训可以更多", "")
COMMENTS_HIGH = ("合作愉快", "产品好卖", "服务及时", "")
