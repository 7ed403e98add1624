//! Closed sets of values the API names by stable snake_case ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// A value outside a closed set; carries what was given so the message can repeat it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的{set}：“{value}”")]
pub struct UnknownValue {
    pub set: &'static str,
    pub value: String,
}

/// Declares a closed enum with its id (serde + FromStr + Display) and its Chinese label.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident, $set:literal, { $($variant:ident => $id:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable id used in the API, the database and configuration.
            pub fn id(self) -> &'static str {
                match self { $($name::$variant => $id,)+ }
            }

            /// The Chinese name shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($id => Ok($name::$variant),)+
                    _ => Err(UnknownValue { set: $set, value: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.id())
            }
        }

        /// For decoding stored text: an unknown value is an error, never a guess.
        impl TryFrom<String> for $name {
            type Error = UnknownValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}
pub(crate) use closed_set;

closed_set!(
    /// Shanghai's 16 districts, by pinyin id.
    District, "区", {
        Huangpu => "huangpu", "黄浦区";
        Xuhui => "xuhui", "徐汇区";
        Changning => "changning", "长宁区";
        Jingan => "jingan", "静安区";
        Putuo => "putuo", "普陀区";
        Hongkou => "hongkou", "虹口区";
        Yangpu => "yangpu", "杨浦区";
        Minhang => "minhang", "闵行区";
        Baoshan => "baoshan", "宝山区";
        Jiading => "jiading", "嘉定区";
        Pudong => "pudong", "浦东新区";
        Jinshan => "jinshan", "金山区";
        Songjiang => "songjiang", "松江区";
        Qingpu => "qingpu", "青浦区";
        Fengxian => "fengxian", "奉贤区";
        Chongming => "chongming", "崇明区";
    }
);

closed_set!(
    /// Why the work must happen at night.
    Process, "夜间施工工艺", {
        ContinuousPour => "continuous_pour", "混凝土连续浇筑";
        DeepExcavation => "deep_excavation", "深基坑开挖";
        BoredPiles => "bored_piles", "钻孔灌注桩";
        SpecialDemolition => "special_demolition", "特殊拆除";
        EmergencyRepair => "emergency_repair", "抢修抢险";
        TrafficRestricted => "traffic_restricted", "交通管制限时作业";
        Other => "other", "其他";
    }
);

closed_set!(
    /// The kinds of material an application carries.
    MaterialKind, "材料类型", {
        BusinessLicense => "business_license", "营业执照";
        ConstructionPermit => "construction_permit", "建筑工程施工许可证";
        ProcessCertificate => "process_certificate", "特殊工艺夜间施工证明";
        NoisePlan => "noise_plan", "夜间施工噪声污染防治措施";
        ResidentNotice => "resident_notice", "周边居民告知/谅解协议";
        SitePlan => "site_plan", "施工现场平面布置图";
        Schedule => "schedule", "施工进度计划";
    }
);

impl MaterialKind {
    /// Whether an application is incomplete without this kind (the schedule is optional).
    pub fn required(self) -> bool {
        !matches!(self, MaterialKind::Schedule)
    }
}

closed_set!(
    /// The two departments that must both agree to night work.
    Department, "部门", {
        Construction => "construction", "建设管理委员会";
        Environment => "environment", "生态环境局";
    }
);

closed_set!(
    /// Where one department's review of one round stands.
    TrackStatus, "审核任务状态", {
        Pending => "pending", "待审核";
        Approved => "approved", "同意";
        Rejected => "rejected", "不予批准";
        CorrectionRequested => "correction_requested", "要求补正";
    }
);

closed_set!(
    /// What the rules decided for a case; ordered weakest to strongest, so the strongest
    /// matching rule wins.
    DecisionOutcome, "审批结论", {
        AutoApprove => "auto_approve", "自动批准";
        ManualReview => "manual_review", "人工审核";
        Reject => "reject", "不予批准";
    }
);

closed_set!(
    /// Who a signed-in caller is.
    Role, "角色", {
        Firm => "firm", "施工单位";
        Reviewer => "reviewer", "审批人员";
        Inspector => "inspector", "执法检查人员";
        Auditor => "auditor", "核验人员";
        Admin => "admin", "管理员";
    }
);

// ---- After-care: complaints and double-random inspections ----

closed_set!(
    /// How a complaint is handled first: night work with no permit in force is the most serious.
    ComplaintPriority, "投诉等级", {
        Highest => "highest", "最高（无许可夜间施工）";
        Normal => "normal", "一般（有许可夜间施工）";
    }
);

closed_set!(
    /// The steps of the 1/3/10/15-day rule, in the order they are taken.
    ComplaintStep, "投诉处理环节", {
        Contacted => "contacted", "联系投诉人";
        Inspected => "inspected", "现场检查并责令整改";
        Checked => "checked", "整改复查并安排监测";
        Concluded => "concluded", "根据监测结果办结";
    }
);

closed_set!(
    /// What a concluded complaint was found to be.
    ComplaintOutcome, "投诉结论", {
        Upheld => "upheld", "投诉属实";
        NotUpheld => "not_upheld", "投诉不属实";
    }
);

closed_set!(
    /// Where one drawn inspection stands.
    InspectionStatus, "检查状态", {
        Assigned => "assigned", "待检查";
        Passed => "passed", "合格";
        Failed => "failed", "不合格";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_is_rejected() {
        for d in District::ALL {
            assert_eq!(d.id().parse::<District>(), Ok(*d));
        }
        assert_eq!(District::ALL.len(), 16);
        let err = "beijing".parse::<District>().expect_err("not a Shanghai district");
        assert_eq!(err.value, "beijing");
        assert!("Continuous_Pour".parse::<Process>().is_err());
        assert!("".parse::<MaterialKind>().is_err());
    }

    #[test]
    fn serde_uses_the_ids() {
        let p: Process = serde_json::from_str("\"bored_piles\"").expect("valid id");
        assert_eq!(p, Process::BoredPiles);
        assert!(serde_json::from_str::<Process>("\"piling\"").is_err());
    }

    #[test]
    fn only_schedule_is_optional() {
        let optional: Vec<_> = MaterialKind::ALL.iter().filter(|k| !k.required()).collect();
        assert_eq!(optional, vec![&MaterialKind::Schedule]);
    }
}
