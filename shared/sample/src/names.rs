//! Placeholder names (people, companies, banks). Invented combinations; any resemblance to a
//! real person or company is accidental.

use crate::rng::Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞",
    "平", "刚", "桂英", "晓东", "子涵", "宇轩", "欣怡", "浩然", "思远", "雨桐", "嘉怡", "俊杰", "梓萱", "一鸣", "文博",
];
const CITIES: &[&str] = &["上海", "杭州", "苏州", "南京", "宁波", "无锡", "嘉兴", "合肥"];
const BRANDS: &[&str] = &[
    "星辰", "蓝海", "启明", "远航", "和信", "鼎盛", "嘉禾", "华腾", "瑞丰", "恒通", "卓越", "晨曦", "万象", "云帆",
    "金桥", "青松", "博远", "智联", "汇德", "景行", "新程", "致远", "同创", "乐森",
];
const TRADES: &[&str] = &[
    "科技",
    "贸易",
    "咨询",
    "设计",
    "物流",
    "餐饮管理",
    "文化传媒",
    "电子商务",
    "医疗器械",
    "教育科技",
    "供应链管理",
    "信息技术",
    "建筑工程",
    "广告",
];

/// (card prefix, bank name) for personal debit cards.
pub const CARD_BANKS: &[(&str, &str)] = &[
    ("6222", "中国工商银行"),
    ("6225", "招商银行"),
    ("6217", "中国建设银行"),
    ("6228", "中国农业银行"),
    ("6216", "中国银行"),
    ("6226", "上海浦东发展银行"),
];
/// Banks for corporate accounts.
pub const CORP_BANKS: &[&str] = &["中国工商银行", "招商银行", "中国建设银行", "交通银行", "中信银行", "宁波银行"];

pub fn person(rng: &mut Rng) -> String {
    let s = rng.pick(SURNAMES).copied().unwrap_or("王");
    let g = rng.pick(GIVEN).copied().unwrap_or("伟");
    format!("{s}{g}")
}

/// `<city><brand><trade>有限公司`; `n` disambiguates repeats.
pub fn company(rng: &mut Rng, n: usize) -> String {
    let c = rng.pick(CITIES).copied().unwrap_or("上海");
    let b = rng.pick(BRANDS).copied().unwrap_or("星辰");
    let t = rng.pick(TRADES).copied().unwrap_or("科技");
    if n == 0 { format!("{c}{b}{t}有限公司") } else { format!("{c}{b}{t}（{n}）有限公司") }
}

/// A personal card number written with spaces (`6222 0212 3456 7890`) and its bank.
pub fn card(rng: &mut Rng) -> (String, &'static str) {
    let (prefix, bank) = rng.pick(CARD_BANKS).copied().unwrap_or(("6222", "中国工商银行"));
    let digits = format!("{prefix}{}", rng.digits(12));
    let spaced = digits.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>();
    (spaced.join(" "), bank)
}

/// A corporate account number (19 digits, no separators) and its bank.
pub fn corporate_account(rng: &mut Rng) -> (String, &'static str) {
    let bank = rng.pick(CORP_BANKS).copied().unwrap_or("招商银行");
    (format!("{}{}", rng.range(1, 9), rng.digits(18)), bank)
}
