//! Cross-checks of what the materials say against the form and each other. Pure: it takes the
//! text OCR read and returns findings, so it is tested on text samples without images.

use crate::findings::*;
use crate::text::*;
use chrono::{NaiveDate, NaiveTime};
use nightpermit_domain::{minutes_after_night_start, MaterialKind};

/// What the form says, as the checks need it.
#[derive(Debug, Clone)]
pub struct CaseForm {
    pub firm_name: String,
    pub credit_code: String,
    pub project_name: String,
    pub construction_permit_no: String,
    pub builder: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub nightly_start: NaiveTime,
    pub nightly_end: NaiveTime,
}

/// One material as the pipeline read it.
#[derive(Debug, Clone)]
pub struct MaterialReading {
    pub material_id: String,
    pub kind: MaterialKind,
    pub pages: Vec<PageText>,
    /// Red seals found, by page.
    pub seals: Vec<Region>,
    /// Set when the file could not be read or a page is illegible; no further checks then.
    pub problem: Option<Finding>,
    /// Some page was scanned in colour. A greyscale scan cannot show a red seal, so a missing
    /// seal there is a doubt, not an error.
    pub colour: bool,
}

/// Keywords that identify each kind of document, strongest first.
fn keywords(kind: MaterialKind) -> &'static [&'static str] {
    match kind {
        MaterialKind::BusinessLicense => {
            &["营业执照", "统一社会信用代码", "法定代表人", "经营范围", "注册资本", "营业期限"]
        }
        MaterialKind::ConstructionPermit => &["施工许可证", "建筑工程施工许可", "合同工期", "发证机关", "建设规模"],
        MaterialKind::ProcessCertificate => &["特殊工艺", "质量监督", "连续施工", "夜间施工证明", "工艺要求"],
        MaterialKind::NoisePlan => &["噪声污染防治", "防治措施", "降噪", "隔声", "噪声控制"],
        MaterialKind::ResidentNotice => &["居民", "告知", "谅解", "敬请", "周边"],
        MaterialKind::SitePlan => &["平面布置", "布置图", "围挡", "出入口", "塔吊"],
        MaterialKind::Schedule => &["进度计划", "施工进度", "工序", "计划开始", "计划完成"],
    }
}

/// The kind a document's text most looks like, with how many keywords it carries.
pub fn classify(pages: &[PageText]) -> Option<(MaterialKind, usize)> {
    MaterialKind::ALL.iter().map(|k| (*k, classify_score(pages, *k))).filter(|(_, n)| *n > 0).max_by_key(|(_, n)| *n)
}

fn needs_seal(kind: MaterialKind) -> bool {
    matches!(kind, MaterialKind::ProcessCertificate | MaterialKind::NoisePlan | MaterialKind::ResidentNotice)
}

fn names_project(kind: MaterialKind) -> bool {
    !matches!(kind, MaterialKind::BusinessLicense)
}

struct Ctx<'a> {
    m: &'a MaterialReading,
    out: Vec<Finding>,
}

impl Ctx<'_> {
    fn push(&mut self, f: Finding) {
        self.out.push(f.on(&self.m.material_id, self.m.kind));
    }

    /// Reports a comparison: a sure difference is `code` as an error, a doubtful one a warning.
    fn compared(&mut self, code: &str, what: &str, expected: &str, c: Comparison, region: Option<Region>) {
        match c {
            Comparison::Same => {}
            Comparison::Different { found } => self.push(
                Finding::new(code, Severity::Error, format!("{}上的{what}与申请表不一致", self.m.kind.label()))
                    .expected_found(expected, found)
                    .at(region),
            ),
            Comparison::Uncertain { found } => self.push(
                Finding::new(
                    code,
                    Severity::Warning,
                    format!("{}上的{what}识别不确定，请人工核对", self.m.kind.label()),
                )
                .expected_found(expected, found)
                .at(region),
            ),
        }
    }

    fn not_found(&mut self, what: &str) {
        let looked = crate::fields::text_area(&self.m.pages);
        self.not_found_at(what, looked);
    }

    /// A field not found is a doubt for a human, never an error: nothing contradicting was read.
    fn not_found_at(&mut self, what: &str, looked: Option<Region>) {
        self.push(
            Finding::new(
                FIELD_UNCERTAIN,
                Severity::Warning,
                format!("未能在{}上识别出{what}，请人工核对（框出的是查找的位置）", self.m.kind.label()),
            )
            .at(looked),
        );
    }

    /// Reports a field read by [`crate::fields::read_field`].
    fn field(&mut self, code: &str, what: &str, expected: &str, reading: crate::fields::FieldReading) {
        use crate::fields::FieldReading;
        match reading {
            FieldReading::Same { .. } => {}
            FieldReading::Different { found, region } => {
                self.compared(code, what, expected, Comparison::Different { found }, region)
            }
            FieldReading::Uncertain { found, region } => {
                self.compared(code, what, expected, Comparison::Uncertain { found }, region)
            }
            FieldReading::NotFound { looked } => self.not_found_at(what, looked),
        }
    }
}

fn as_read(v: Vec<OcrChar>) -> Vec<OcrChar> {
    v
}

/// A permit number keeps its own characters; OCR reads O for 0 and l for 1 in numbers.
fn permit_number_chars(v: Vec<OcrChar>) -> Vec<OcrChar> {
    v.into_iter()
        .filter(|c| c.ch.is_ascii_alphanumeric() || c.ch == '-')
        .map(|c| OcrChar {
            ch: match c.ch {
                'O' | 'o' => '0',
                'l' | 'I' => '1',
                x => x,
            },
            conf: c.conf,
        })
        .collect()
}

fn check_firm_and_code(cx: &mut Ctx, form: &CaseForm) {
    let name = crate::fields::read_field(&cx.m.pages, &["名称", "企业名称", "单位名称"], &form.firm_name, &as_read);
    cx.field(FIRM_NAME_MISMATCH, "单位名称", &form.firm_name, name);
    match read_credit_code(&cx.m.pages, Some(&form.credit_code)) {
        Some(CodeReading::Valid { code, doubtful, region }) if code.as_str() != form.credit_code => {
            // A code that passes its check character yet differs is another firm's code; a
            // doubtful reading (stray character dropped) still goes to a human only.
            let severity = if doubtful { Severity::Warning } else { Severity::Error };
            cx.push(
                Finding::new(CREDIT_CODE_MISMATCH, severity, "营业执照上的统一社会信用代码与申请单位不一致")
                    .expected_found(&form.credit_code, code.as_str())
                    .at(region),
            );
        }
        Some(CodeReading::Valid { .. }) => {}
        Some(CodeReading::Invalid { text, doubtful, region }) => {
            if doubtful {
                cx.push(
                    Finding::new(
                        FIELD_UNCERTAIN,
                        Severity::Warning,
                        "统一社会信用代码识别不确定（校验位不符），请人工核对",
                    )
                    .expected_found(&form.credit_code, text)
                    .at(region),
                );
            } else {
                cx.push(
                    Finding::new(
                        CREDIT_CODE_INVALID,
                        Severity::Error,
                        "营业执照上的统一社会信用代码校验位错误，请核对执照是否真实有效",
                    )
                    .expected_found(&form.credit_code, text)
                    .at(region),
                );
            }
        }
        None => cx.not_found("统一社会信用代码"),
    }
    if let Some((range, region)) = latest_range(&cx.m.pages, &["营业期限", "有效期"], form) {
        if range.end.is_some_and(|end| end < form.end_date) {
            cx.push(
                Finding::new(DOCUMENT_EXPIRED, Severity::Error, "营业执照营业期限在申请的夜间施工结束前到期")
                    .expected_found(
                        format!("至少至{}", form.end_date),
                        range.end.map(|d| d.to_string()).unwrap_or_default(),
                    )
                    .at(region),
            );
        }
    }
}

/// The labelled validity range that runs longest (a document may print several dates).
fn latest_range(pages: &[PageText], labels: &[&str], form: &CaseForm) -> Option<(DateRange, Option<Region>)> {
    use chrono::Datelike;
    let ranges = date_ranges_in(pages, labels, Some(form.start_date.year()));
    let labelled: Vec<_> = ranges.iter().filter(|r| r.2).collect();
    let pool = if labelled.is_empty() { ranges.iter().collect() } else { labelled };
    pool.into_iter().max_by_key(|r| r.0.end.unwrap_or(NaiveDate::MAX)).map(|r| (r.0, r.1))
}

fn check_permit(cx: &mut Ctx, form: &CaseForm) {
    let number = crate::fields::read_field(
        &cx.m.pages,
        &["施工许可证编号", "许可证编号", "编号"],
        &form.construction_permit_no,
        &permit_number_chars,
    );
    cx.field(PERMIT_NO_MISMATCH, "施工许可证编号", &form.construction_permit_no, number);
    let builder = crate::fields::read_field(&cx.m.pages, &["建设单位"], &form.builder, &as_read);
    cx.field(PROJECT_MISMATCH, "建设单位", &form.builder, builder);
    if let Some((range, region)) = latest_range(&cx.m.pages, &["有效期"], form) {
        if range.end.is_some_and(|end| end < form.end_date) {
            cx.push(
                Finding::new(DOCUMENT_EXPIRED, Severity::Error, "施工许可证有效期在申请的夜间施工结束前到期")
                    .expected_found(
                        format!("至少至{}", form.end_date),
                        range.end.map(|d| d.to_string()).unwrap_or_default(),
                    )
                    .at(region),
            );
        }
    }
}

fn check_project(cx: &mut Ctx, form: &CaseForm) {
    let project = crate::fields::read_field(&cx.m.pages, &["工程名称", "项目名称"], &form.project_name, &as_read);
    cx.field(PROJECT_MISMATCH, "项目名称", &form.project_name, project);
}

fn check_period(cx: &mut Ctx, form: &CaseForm, hours_too: bool) {
    use chrono::Datelike;
    let ranges = date_ranges_in(&cx.m.pages, &["日期", "时间", "期间", "自"], Some(form.start_date.year()));
    let covers = |r: &DateRange| r.start <= form.start_date && r.end.is_none_or(|end| end >= form.end_date);
    if ranges.is_empty() {
        cx.not_found("起止日期");
    } else if !ranges.iter().any(|(r, _, _)| covers(r)) {
        // The document states dates and none of them covers the nights: it says something else.
        let (range, region, _) = ranges.iter().find(|r| r.2).unwrap_or(&ranges[0]);
        cx.push(
            Finding::new(
                PERIOD_NOT_COVERED,
                Severity::Error,
                format!("{}载明的日期未覆盖申请的全部夜晚", cx.m.kind.label()),
            )
            .expected_found(
                format!("{}至{}", form.start_date, form.end_date),
                format!("{}至{}", range.start, range.end.map(|d| d.to_string()).unwrap_or_else(|| "长期".into())),
            )
            .at(*region),
        );
    }
    if hours_too {
        let hours = nightly_hours_all(&cx.m.pages);
        let covers = |(start, end): (NaiveTime, NaiveTime)| {
            minutes_after_night_start(start) <= minutes_after_night_start(form.nightly_start)
                && minutes_after_night_start(end) >= minutes_after_night_start(form.nightly_end)
        };
        match hours.iter().find(|(s, e, _)| covers((*s, *e))).or(hours.first()) {
            Some((start, end, region)) if !covers((*start, *end)) => {
                cx.push(
                    Finding::new(PERIOD_NOT_COVERED, Severity::Error, "居民告知载明的每晚作业时段未覆盖申请的时段")
                        .expected_found(
                            format!("{}至{}", form.nightly_start.format("%H:%M"), form.nightly_end.format("%H:%M")),
                            format!("{}至{}", start.format("%H:%M"), end.format("%H:%M")),
                        )
                        .at(*region),
                );
            }
            Some(_) => {}
            None => cx.not_found("每晚作业时段"),
        }
    }
}

/// Checks one material; the caller has already dealt with unreadable files.
fn check_material(m: &MaterialReading, form: &CaseForm) -> Vec<Finding> {
    let mut cx = Ctx { m, out: Vec::new() };
    if let Some(problem) = &m.problem {
        cx.push(problem.clone());
        return cx.out;
    }
    match classify(&m.pages) {
        Some((kind, score)) if kind != m.kind && score >= 2 && classify_score(&m.pages, m.kind) < score => {
            cx.push(
                Finding::new(
                    WRONG_DOCUMENT_KIND,
                    Severity::Error,
                    format!("上传为“{}”的文件看起来是“{}”", m.kind.label(), kind.label()),
                )
                .expected_found(m.kind.label(), kind.label()),
            );
            return cx.out;
        }
        None if m.kind != MaterialKind::SitePlan => {
            cx.push(Finding::new(
                FIELD_UNCERTAIN,
                Severity::Warning,
                format!("未能识别“{}”的内容，请人工核对", m.kind.label()),
            ));
            return cx.out;
        }
        _ => {}
    }
    match m.kind {
        MaterialKind::BusinessLicense => check_firm_and_code(&mut cx, form),
        MaterialKind::ConstructionPermit => check_permit(&mut cx, form),
        MaterialKind::ProcessCertificate => check_period(&mut cx, form, false),
        MaterialKind::ResidentNotice => check_period(&mut cx, form, true),
        MaterialKind::NoisePlan | MaterialKind::SitePlan | MaterialKind::Schedule => {}
    }
    if names_project(m.kind) {
        check_project(&mut cx, form);
    }
    if needs_seal(m.kind) && m.seals.is_empty() {
        if m.colour {
            cx.push(Finding::new(SEAL_MISSING, Severity::Error, format!("{}未见红色印章", m.kind.label())));
        } else {
            cx.push(Finding::new(
                FIELD_UNCERTAIN,
                Severity::Warning,
                format!("{}为黑白（灰度）扫描件，无法确认红色印章，请人工核对", m.kind.label()),
            ));
        }
    }
    cx.out
}

/// How many of `kind`'s keywords the document's text carries.
fn classify_score(pages: &[PageText], kind: MaterialKind) -> usize {
    let text: String = pages.iter().flat_map(|p| p.lines.iter()).map(|l| fold_str(&l.text())).collect();
    keywords(kind).iter().filter(|w| text.contains(*w)).count()
}

/// One character apart (a single substitution, insertion or deletion).
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (fold_str(a).chars().collect(), fold_str(b).chars().collect());
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => a.iter().zip(b.iter()).filter(|(x, y)| x != y).count() == 1,
        1 => (0..long.len())
            .any(|skip| long.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| c).eq(short.iter())),
        _ => false,
    }
}

/// A project name read one character off on one material, while other materials of the same
/// application read it exactly, is more likely a misreading than another project: it becomes
/// a warning (a human looks) rather than an error sent back to the applicant.
fn weigh_project_names(findings: &mut [Finding], materials: &[MaterialReading], form: &CaseForm) {
    let naming: Vec<&MaterialReading> =
        materials.iter().filter(|m| names_project(m.kind) && m.problem.is_none()).collect();
    let confirmed = naming.iter().any(|m| {
        !findings.iter().any(|f| f.code == PROJECT_MISMATCH && f.material_id.as_deref() == Some(&m.material_id))
    });
    if !confirmed {
        return;
    }
    for f in findings.iter_mut() {
        let near = f.found.as_deref().is_some_and(|found| one_edit_apart(&form.project_name, found));
        if f.code == PROJECT_MISMATCH && f.severity == Severity::Error && near {
            f.severity = Severity::Warning;
            f.message = format!("{}（其他材料上的项目名称一致，可能为识别误差，请人工核对）", f.message);
        }
    }
}

/// All findings for a case: missing kinds, then each material's.
pub fn check_case(form: &CaseForm, materials: &[MaterialReading]) -> Vec<Finding> {
    let mut out = Vec::new();
    for kind in MaterialKind::ALL.iter().filter(|k| k.required()) {
        if !materials.iter().any(|m| m.kind == *kind) {
            let mut f = Finding::new(MISSING_MATERIAL, Severity::Error, format!("缺少材料：{}", kind.label()));
            f.kind = Some(*kind);
            out.push(f);
        }
    }
    let (combined, origin) = combine_same_kind(materials);
    for m in &combined {
        let mut found = check_material(m, form);
        // Back from the combined page numbers to each file's own.
        for f in &mut found {
            if let Some(region) = f.region.as_mut() {
                if let Some((id, page)) = origin.get(&(m.material_id.clone(), region.page)) {
                    f.material_id = Some(id.clone());
                    region.page = *page;
                }
            }
        }
        out.extend(found);
    }
    weigh_project_names(&mut out, materials, form);
    out
}

/// For each page of a combined reading (its material id, page): the file and page it came from.
type PageOrigins = std::collections::HashMap<(String, u32), (String, u32)>;

/// Files of one kind are one document (a three-page plan uploaded as three images, the seal on
/// the last): their pages are checked together, numbered in upload order. Files that could not
/// be read stay on their own, with their problem. Returns the readings to check and, for each
/// combined page, the file and page it came from.
fn combine_same_kind(materials: &[MaterialReading]) -> (Vec<MaterialReading>, PageOrigins) {
    let mut out: Vec<MaterialReading> = Vec::new();
    let mut origin = std::collections::HashMap::new();
    for m in materials {
        let target =
            if m.problem.is_none() { out.iter_mut().find(|o| o.kind == m.kind && o.problem.is_none()) } else { None };
        let Some(target) = target else {
            let mut own = m.clone();
            if own.problem.is_none() {
                for p in &own.pages {
                    origin.insert((own.material_id.clone(), p.page), (own.material_id.clone(), p.page));
                }
            }
            own.colour = m.colour;
            out.push(own);
            continue;
        };
        let offset = target.pages.iter().map(|p| p.page).max().unwrap_or(0);
        for p in &m.pages {
            let page = offset + p.page;
            origin.insert((target.material_id.clone(), page), (m.material_id.clone(), p.page));
            let lines = p
                .lines
                .iter()
                .map(|l| OcrLine { chars: l.chars.clone(), region: l.region.map(|r| Region { page, ..r }) })
                .collect();
            target.pages.push(PageText { page, lines });
        }
        target.seals.extend(m.seals.iter().map(|r| Region { page: offset + r.page, ..*r }));
        target.colour |= m.colour;
    }
    (out, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CaseForm {
        CaseForm {
            firm_name: "上海某建设发展有限公司".into(),
            credit_code: nightpermit_domain::CreditCode::complete("91310106MA1FL0D44")
                .map(|c| c.to_string())
                .unwrap_or_default(),
            project_name: "静安区某商业综合体项目".into(),
            construction_permit_no: "310106202012150101".into(),
            builder: "上海某置业有限公司".into(),
            start_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            end_date: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
            nightly_start: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
            nightly_end: NaiveTime::from_hms_opt(4, 0, 0).unwrap_or_default(),
        }
    }

    fn reading(kind: MaterialKind, lines: &[&str], sealed: bool) -> MaterialReading {
        MaterialReading {
            material_id: format!("m-{}", kind.id()),
            kind,
            pages: vec![PageText { page: 1, lines: lines.iter().map(|l| OcrLine::certain(l, None)).collect() }],
            seals: if sealed { vec![Region { page: 1, x: 1, y: 1, w: 10, h: 10 }] } else { vec![] },
            problem: None,
            colour: true,
        }
    }

    fn clean_set(f: &CaseForm) -> Vec<MaterialReading> {
        vec![
            reading(
                MaterialKind::BusinessLicense,
                &[
                    "营业执照",
                    &format!("统一社会信用代码 {}", f.credit_code),
                    &format!("名称 {}", f.firm_name),
                    "法定代表人 张三",
                    "营业期限 2010年01月01日至长期",
                ],
                true,
            ),
            reading(
                MaterialKind::ConstructionPermit,
                &[
                    "建筑工程施工许可证",
                    &format!("编号 {}", f.construction_permit_no),
                    &format!("建设单位 {}", f.builder),
                    &format!("工程名称 {}", f.project_name),
                    "合同工期 720天",
                ],
                true,
            ),
            reading(
                MaterialKind::ProcessCertificate,
                &[
                    "特殊工艺夜间施工证明",
                    &format!("工程名称：{}", f.project_name),
                    "底板大体积混凝土需连续施工",
                    "施工日期：2026年12月1日至2026年12月3日",
                    "上海市静安区建设工程质量监督站",
                ],
                true,
            ),
            reading(
                MaterialKind::NoisePlan,
                &["夜间施工噪声污染防治措施", &format!("项目名称：{}", f.project_name), "一、设置隔声屏障"],
                true,
            ),
            reading(
                MaterialKind::ResidentNotice,
                &[
                    "致周边居民的告知书",
                    &format!("我司承建的{}需夜间施工", f.project_name),
                    "施工日期：2026年12月1日至2026年12月3日",
                    "每晚22:00至次日04:00",
                    "敬请谅解",
                ],
                true,
            ),
            reading(MaterialKind::SitePlan, &["施工现场平面布置图", &format!("工程名称：{}", f.project_name)], false),
        ]
    }

    fn codes(findings: &[Finding]) -> Vec<(&str, Severity)> {
        findings.iter().map(|f| (f.code.as_str(), f.severity)).collect()
    }

    #[test]
    fn a_clean_set_passes() {
        let f = form();
        let findings = check_case(&f, &clean_set(&f));
        assert_eq!(codes(&findings), vec![]);
        assert_eq!(Verdict::of(&findings), Verdict::Pass);
    }

    #[test]
    fn each_defect_gives_its_code() {
        let f = form();
        let cases: Vec<(usize, Vec<&str>, bool, &str)> = vec![
            (
                0,
                vec!["营业执照", "统一社会信用代码 91310106MA1FL0D44W", "名称 上海华浦建设发展有限公司", "法定代表人"],
                true,
                FIRM_NAME_MISMATCH,
            ),
            (
                0,
                vec!["营业执照", "统一社会信用代码 91310000132200821H", "名称 上海某建设发展有限公司", "法定代表人"],
                true,
                CREDIT_CODE_MISMATCH,
            ),
            (
                0,
                vec!["营业执照", "统一社会信用代码 91310106MA1FL0D440", "名称 上海某建设发展有限公司", "法定代表人"],
                true,
                CREDIT_CODE_INVALID,
            ),
            (
                0,
                vec![
                    "营业执照",
                    "统一社会信用代码 91310106MA1FL0D44W",
                    "名称 上海某建设发展有限公司",
                    "营业期限 2010年01月01日至2026年12月02日",
                    "法定代表人",
                ],
                true,
                DOCUMENT_EXPIRED,
            ),
            (
                1,
                vec![
                    "建筑工程施工许可证",
                    "编号 310106202012150199",
                    "建设单位 上海某置业有限公司",
                    "工程名称 静安区某商业综合体项目",
                ],
                true,
                PERMIT_NO_MISMATCH,
            ),
            (
                1,
                vec![
                    "建筑工程施工许可证",
                    "编号 310106202012150101",
                    "建设单位 上海某置业有限公司",
                    "工程名称 徐汇区另一住宅项目",
                ],
                true,
                PROJECT_MISMATCH,
            ),
            (
                2,
                vec![
                    "特殊工艺夜间施工证明",
                    "工程名称：静安区某商业综合体项目",
                    "质量监督",
                    "施工日期：2026年12月1日至2026年12月2日",
                ],
                true,
                PERIOD_NOT_COVERED,
            ),
            (
                2,
                vec![
                    "特殊工艺夜间施工证明",
                    "工程名称：静安区某商业综合体项目",
                    "质量监督",
                    "施工日期：2026年12月1日至2026年12月3日",
                ],
                false,
                SEAL_MISSING,
            ),
            (
                4,
                vec![
                    "致周边居民的告知书",
                    "静安区某商业综合体项目",
                    "施工日期：2026年12月1日至2026年12月3日",
                    "每晚22:00至次日02:00",
                    "敬请谅解",
                ],
                true,
                PERIOD_NOT_COVERED,
            ),
            (
                3,
                vec!["致周边居民的告知书", "静安区某商业综合体项目", "敬请谅解", "周边居民"],
                true,
                WRONG_DOCUMENT_KIND,
            ),
        ];
        for (i, lines, sealed, code) in cases {
            let mut set = clean_set(&f);
            let kind = set[i].kind;
            set[i] = reading(kind, &lines, sealed);
            let findings = check_case(&f, &set);
            assert!(findings.iter().any(|x| x.code == code && x.severity == Severity::Error), "{code}: {findings:?}");
            assert_eq!(Verdict::of(&findings), Verdict::NeedsCorrection, "{code}");
        }
    }

    #[test]
    fn missing_and_unreadable() {
        let f = form();
        let mut set = clean_set(&f);
        set.remove(3);
        set[0].problem = Some(Finding::new(UNREADABLE_FILE, Severity::Error, "x"));
        let findings = check_case(&f, &set);
        assert_eq!(codes(&findings), vec![(MISSING_MATERIAL, Severity::Error), (UNREADABLE_FILE, Severity::Error)]);
        assert_eq!(findings[0].kind, Some(MaterialKind::NoisePlan));
    }

    #[test]
    fn a_project_name_misread_on_one_material_is_weighed_against_the_others() {
        let f = form();
        let mut set = clean_set(&f);
        set[5] = reading(MaterialKind::SitePlan, &["施工现场平面布置图", "工程名称：静安区某商业综合体项日"], false);
        let findings = check_case(&f, &set);
        assert_eq!(codes(&findings), vec![(PROJECT_MISMATCH, Severity::Warning)]);
        // Another project entirely stays an error.
        set[5] = reading(MaterialKind::SitePlan, &["施工现场平面布置图", "工程名称：徐汇区某住宅项目"], false);
        assert_eq!(codes(&check_case(&f, &set)), vec![(PROJECT_MISMATCH, Severity::Error)]);
    }

    #[test]
    fn doubtful_readings_warn_instead_of_failing() {
        let f = form();
        let mut set = clean_set(&f);
        let mut line = OcrLine::certain("名称 上海某建设发屐有限公司", None);
        line.chars[9].conf = 35.0;
        set[0].pages[0].lines[2] = line;
        let findings = check_case(&f, &set);
        assert_eq!(codes(&findings), vec![(FIRM_NAME_MISMATCH, Severity::Warning)]);
        assert_eq!(Verdict::of(&findings), Verdict::Pass);
    }

    #[test]
    fn not_found_is_a_warning_and_a_confident_other_value_an_error() {
        let f = form();
        let mut set = clean_set(&f);
        // The plan names no project at all: a doubt for a human, not "wrong".
        set[3] = reading(MaterialKind::NoisePlan, &["夜间施工噪声污染防治措施", "降噪 隔声"], true);
        let findings = check_case(&f, &set);
        assert_eq!(codes(&findings), vec![(FIELD_UNCERTAIN, Severity::Warning)]);
        assert_eq!(Verdict::of(&findings), Verdict::Pass);
        // It names another project, read with confidence: that contradicts the form.
        set[3] = reading(
            MaterialKind::NoisePlan,
            &["夜间施工噪声污染防治措施", "降噪 隔声", "工程名称：徐汇区某住宅项目"],
            true,
        );
        assert_eq!(codes(&check_case(&f, &set)), vec![(PROJECT_MISMATCH, Severity::Error)]);
    }

    #[test]
    fn a_greyscale_scan_without_a_seal_is_a_doubt_a_colour_one_an_error() {
        let f = form();
        let mut set = clean_set(&f);
        set[3].seals.clear();
        assert_eq!(codes(&check_case(&f, &set)), vec![(SEAL_MISSING, Severity::Error)]);
        set[3].colour = false;
        assert_eq!(codes(&check_case(&f, &set)), vec![(FIELD_UNCERTAIN, Severity::Warning)]);
    }

    #[test]
    fn files_of_one_kind_are_one_document() {
        let f = form();
        let mut set = clean_set(&f);
        // The plan's last page, as its own file, carries the seal; the first page the text.
        let mut first = set[3].clone();
        first.seals.clear();
        let mut last = reading(MaterialKind::NoisePlan, &["（盖章）"], true);
        last.material_id = "m-noise-2".into();
        set[3] = first;
        set.push(last);
        assert_eq!(codes(&check_case(&f, &set)), vec![]);
    }
}
