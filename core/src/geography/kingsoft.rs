//! Kingsoft Cloud (金山云) regions. A zone is its region's code plus a
//! letter (`cn-beijing-6a`).

use super::{KnownRegion, region};

pub(super) const REGIONS: &[KnownRegion] = &[
    region("cn-beijing-6", "cn", Some("beijing")).zh("华北1（北京）"),
    region("cn-beijing-fin", "cn", Some("beijing")),
    region("cn-shanghai-2", "cn", Some("shanghai")).zh("华东1（上海）"),
    region("cn-shanghai-fin", "cn", Some("shanghai")),
    region("cn-guangzhou-1", "cn", Some("guangzhou")).zh("华南1（广州）"),
    region("cn-hongkong-2", "hk", Some("hong-kong")),
    region("cn-taipei-1", "tw", Some("taipei")),
    region("ap-singapore-1", "sg", Some("singapore")).zh("新加坡"),
    region("eu-east-1", "ru", Some("moscow")),
    // A region still in public test, under this code.
    region("cn-qingyangtest-1", "cn", Some("qingyang")).zh("西北1（庆阳）"),
];
