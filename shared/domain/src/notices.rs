//! What a dunning notice says: the message templates (built-in defaults, per-client overrides) and the
//! renderer. Pure: the notifier (`rentops_app::notifier`) gathers the values, this module turns them into
//! text, and refuses a template that names a value it does not know.
//!
//! A template is plain text with `{{name}}` placeholders; [`PLACEHOLDERS`] lists the names. Each template
//! id (the rules' `template` of a stage: `reminder-after-issue`, `reminder-before-due`, `overdue-gentle`,
//! `overdue-phone`, `legal-warning`, or any a client's rules name) has three texts:
//! - `subject` — e-mail subject and app-message title (one line);
//! - `short` — SMS and app message (keep it under ~300 characters: SMS is at most 1,600 bytes);
//! - `body` — e-mail body.
//!
//! The demand letter (催款函) of a `legal_demand` stage is rendered from [`TemplateSet::letter`], which can
//! also use `{{history}}` (the lease's unpaid invoices, payments and late fees, one per line).
//!
//! A client overrides any of them with a TOML file (`rentops templates set FILE`), validated before it is
//! stored: unknown placeholders, empty texts and line breaks in a subject are refused with the field named.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The values a template may use, with what they hold.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("client_name", "the client company's name"),
    ("tenant_name", "the tenant's name"),
    ("lease", "lease number"),
    ("contract_ref", "the client's own contract number (empty if none)"),
    ("unit", "unit id"),
    ("building", "building name"),
    ("invoice", "invoice number"),
    ("period", "billing period, e.g. 2026-11 (empty for a deposit)"),
    ("amount_due", "invoice amount, e.g. CNY 8000.00"),
    ("outstanding", "amount still unpaid on the invoice"),
    ("late_fee", "late fee accrued on the invoice so far"),
    ("total_owed", "outstanding + late fee"),
    ("issue_date", "bill date, YYYY-MM-DD"),
    ("due_date", "due date, YYYY-MM-DD"),
    ("days_after_due", "days past the due date (0 on the due date)"),
    ("days_to_due", "days until the due date (0 on or after it)"),
    ("late_fee_rule", "the late-fee rule in one sentence"),
    ("pay_reference", "the order number to pay with"),
    ("as_of", "the date of the notice, YYYY-MM-DD"),
    ("stage", "the dunning stage"),
    ("history", "letters only: the lease's unpaid invoices, payments and late fees, one per line"),
];

/// The three texts of one template id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    pub subject: String,
    pub short: String,
    pub body: String,
}

/// The demand letter template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterTemplate {
    pub title: String,
    pub body: String,
}

/// All of a client's notice templates. Missing ids fall back to [`TemplateSet::defaults`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSet {
    /// Increase when the texts change; stored with every letter rendered from them.
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub messages: BTreeMap<String, MessageTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<LetterTemplate>,
}

fn default_version() -> String {
    "1".into()
}

/// A template problem, naming the field (`messages.overdue-gentle.short`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TemplateError {
    pub field: String,
    pub message: String,
}

/// Values for one rendering (name → text). Missing names render as an error, never as blank.
pub type Values = BTreeMap<&'static str, String>;

fn m(subject: &str, short: &str, body: &str) -> MessageTemplate {
    MessageTemplate { subject: subject.into(), short: short.into(), body: body.into() }
}

const FOOTER: &str =
    "\n\n如已付款，请忽略本通知。If you have already paid, please ignore this notice.\n{{client_name}}";

impl TemplateSet {
    /// The built-in texts (bilingual Chinese / English) for the default rules' templates and the letter.
    pub fn defaults() -> TemplateSet {
        let mut messages = BTreeMap::new();
        let pay = "\n\n应付 Amount due: {{outstanding}}\n到期日 Due date: {{due_date}}\n付款单号 Pay with order number: {{pay_reference}}\n逾期后果 If paid late: {{late_fee_rule}}";
        messages.insert(
            "reminder-after-issue".into(),
            m(
                "账单已出 Your bill {{invoice}} is ready",
                "【{{client_name}}】{{tenant_name}}：账单{{invoice}}（{{period}}）{{outstanding}}，请于{{due_date}}前支付，付款单号{{pay_reference}}。Bill {{invoice}}: {{outstanding}} due {{due_date}}.",
                &format!("{{{{tenant_name}}}}：\n\n您的账单 {{{{invoice}}}}（{{{{period}}}}，租约 {{{{lease}}}}，单元 {{{{unit}}}}）已出。\nYour bill {{{{invoice}}}} for {{{{period}}}} (lease {{{{lease}}}}, unit {{{{unit}}}}) is ready.{pay}{FOOTER}"),
            ),
        );
        messages.insert(
            "reminder-before-due".into(),
            m(
                "付款提醒 {{invoice}} is due in {{days_to_due}} days",
                "【{{client_name}}】{{tenant_name}}：账单{{invoice}} {{outstanding}}将于{{due_date}}到期（{{days_to_due}}天后），付款单号{{pay_reference}}。逾期：{{late_fee_rule}}",
                &format!("{{{{tenant_name}}}}：\n\n账单 {{{{invoice}}}} 将于 {{{{due_date}}}} 到期（{{{{days_to_due}}}} 天后）。\nBill {{{{invoice}}}} is due on {{{{due_date}}}}, in {{{{days_to_due}}}} days.{pay}{FOOTER}"),
            ),
        );
        messages.insert(
            "overdue-gentle".into(),
            m(
                "逾期提醒 {{invoice}} is {{days_after_due}} days overdue",
                "【{{client_name}}】{{tenant_name}}：账单{{invoice}}已逾期{{days_after_due}}天，欠款{{outstanding}}，滞纳金{{late_fee}}。请尽快支付，付款单号{{pay_reference}}。",
                &format!("{{{{tenant_name}}}}：\n\n账单 {{{{invoice}}}}（{{{{period}}}}）已逾期 {{{{days_after_due}}}} 天。\nBill {{{{invoice}}}} ({{{{period}}}}) is {{{{days_after_due}}}} days overdue.\n\n欠款 Outstanding: {{{{outstanding}}}}\n滞纳金 Late fee so far: {{{{late_fee}}}}\n合计 Total: {{{{total_owed}}}}\n付款单号 Pay with order number: {{{{pay_reference}}}}\n滞纳金规则 Late-fee rule: {{{{late_fee_rule}}}}{FOOTER}"),
            ),
        );
        messages.insert(
            "overdue-phone".into(),
            m(
                "催收电话 Call {{tenant_name}} about {{invoice}}",
                "致电{{tenant_name}}：账单{{invoice}}逾期{{days_after_due}}天，欠款{{outstanding}}，滞纳金{{late_fee}}。",
                "请致电租户并记录结果 Call the tenant and record the outcome.\n\n租户 Tenant: {{tenant_name}}\n租约 Lease: {{lease}} ({{unit}}, {{building}})\n账单 Invoice: {{invoice}} ({{period}}), due {{due_date}}, {{days_after_due}} days overdue\n欠款 Outstanding: {{outstanding}}\n滞纳金 Late fee: {{late_fee}}\n付款单号 Order number: {{pay_reference}}",
            ),
        );
        messages.insert(
            "legal-warning".into(),
            m(
                "催款函 Demand for payment: {{invoice}}",
                "【{{client_name}}】{{tenant_name}}：账单{{invoice}}已逾期{{days_after_due}}天，欠款及滞纳金合计{{total_owed}}。我司已发出催款函，请立即支付，否则将依法追究。",
                &format!("{{{{tenant_name}}}}：\n\n账单 {{{{invoice}}}} 已逾期 {{{{days_after_due}}}} 天，欠款及滞纳金合计 {{{{total_owed}}}}。我司已向您发出正式催款函（附后），请于收到后立即支付。\nBill {{{{invoice}}}} is {{{{days_after_due}}}} days overdue; {{{{total_owed}}}} is owed including late fees. A formal demand letter has been issued.\n\n付款单号 Pay with order number: {{{{pay_reference}}}}{FOOTER}"),
            ),
        );
        TemplateSet {
            version: "default-1".into(),
            messages,
            letter: Some(LetterTemplate {
                title: "催款函 Demand for Payment — {{lease}}".into(),
                body: "催款函\nDEMAND FOR PAYMENT\n\n致 To: {{tenant_name}}\n租约 Lease: {{lease}} {{contract_ref}}\n单元 Unit: {{unit}}，{{building}}\n日期 Date: {{as_of}}\n\n根据双方签订的租赁合同，贵方应于 {{due_date}} 前支付账单 {{invoice}}（{{period}}）款项 {{amount_due}}。截至 {{as_of}}，该款项已逾期 {{days_after_due}} 天，尚欠 {{outstanding}}，按合同约定产生滞纳金 {{late_fee}}（{{late_fee_rule}}），合计 {{total_owed}}。\n\nUnder the lease, invoice {{invoice}} ({{period}}) for {{amount_due}} was due on {{due_date}}. As of {{as_of}} it is {{days_after_due}} days overdue: {{outstanding}} unpaid plus late fees of {{late_fee}} ({{late_fee_rule}}), {{total_owed}} in total.\n\n账户记录 Account history:\n{{history}}\n\n请贵方于收到本函之日起七日内付清上述款项（付款单号 {{pay_reference}}）。逾期未付，我司将依法采取进一步措施，包括但不限于提起诉讼、解除合同。\nPlease pay the amount above within seven days of receiving this letter (order number {{pay_reference}}). Otherwise we will take further legal steps, including court action and termination of the lease.\n\n{{client_name}}\n{{as_of}}\n".into(),
            }),
        }
    }

    /// The message template `id`: the client's, else the built-in one.
    pub fn message(&self, id: &str) -> Option<MessageTemplate> {
        self.messages.get(id).cloned().or_else(|| TemplateSet::defaults().messages.remove(id))
    }

    /// The letter template: the client's, else the built-in one.
    pub fn letter(&self) -> LetterTemplate {
        self.letter.clone().unwrap_or_else(|| TemplateSet::defaults().letter.expect("built-in letter"))
    }

    /// Every problem of the set, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<TemplateError>> {
        let mut errs = Vec::new();
        if self.version.trim().is_empty() {
            errs.push(TemplateError { field: "version".into(), message: "must not be empty".into() });
        }
        for (id, t) in &self.messages {
            for (part, text) in [("subject", &t.subject), ("short", &t.short), ("body", &t.body)] {
                check_text(&format!("messages.{id}.{part}"), text, false, &mut errs);
            }
            if t.subject.contains(['\n', '\r']) {
                errs.push(TemplateError {
                    field: format!("messages.{id}.subject"),
                    message: "a subject is one line".into(),
                });
            }
        }
        if let Some(l) = &self.letter {
            check_text("letter.title", &l.title, false, &mut errs);
            check_text("letter.body", &l.body, true, &mut errs);
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

fn check_text(field: &str, text: &str, letter: bool, errs: &mut Vec<TemplateError>) {
    if text.trim().is_empty() {
        errs.push(TemplateError { field: field.into(), message: "must not be empty".into() });
        return;
    }
    match placeholders(text) {
        Err(message) => errs.push(TemplateError { field: field.into(), message }),
        Ok(names) => {
            for n in names {
                if !PLACEHOLDERS.iter().any(|(p, _)| *p == n) {
                    errs.push(TemplateError {
                        field: field.into(),
                        message: format!("unknown placeholder {{{{{n}}}}}; known: {}", known_names()),
                    });
                } else if n == "history" && !letter {
                    errs.push(TemplateError {
                        field: field.into(),
                        message: "{{history}} is available in the letter only".into(),
                    });
                }
            }
        }
    }
}

fn known_names() -> String {
    PLACEHOLDERS.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ")
}

/// The placeholder names of `text`, in order; an error for an unclosed `{{`.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(format!("unclosed placeholder starting {:.30}", &rest[i..]));
        };
        out.push(after[..j].trim());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Fill `text`'s placeholders from `values`. A name without a value is an error (a notice never goes out
/// with a hole in it).
pub fn render(text: &str, values: &Values) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or_else(|| TemplateError {
            field: "template".into(),
            message: format!("unclosed placeholder starting {:.30}", &rest[i..]),
        })?;
        let name = after[..j].trim();
        let v = values.get(name).ok_or_else(|| TemplateError {
            field: format!("{{{{{name}}}}}"),
            message: "no value for this placeholder".into(),
        })?;
        out.push_str(v);
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        let mut v = Values::new();
        for (p, _) in PLACEHOLDERS {
            v.insert(p, format!("<{p}>"));
        }
        v.insert("outstanding", "CNY 8000.00".into());
        v.insert("tenant_name", "星河科技".into());
        v
    }

    #[test]
    fn defaults_are_valid_and_render_every_template() {
        let d = TemplateSet::defaults();
        assert_eq!(d.validate(), Ok(()));
        for id in ["reminder-after-issue", "reminder-before-due", "overdue-gentle", "overdue-phone", "legal-warning"] {
            let t = d.message(id).unwrap_or_else(|| panic!("{id}"));
            let short = render(&t.short, &values()).unwrap();
            assert!(short.len() < 600, "{id}: SMS text {} bytes", short.len());
            assert!(!short.contains("{{"), "{id}: {short}");
            let body = render(&t.body, &values()).unwrap();
            assert!(body.contains("星河科技"), "{id}: {body}");
        }
        let letter = render(&d.letter().body, &values()).unwrap();
        assert!(letter.starts_with("催款函\nDEMAND FOR PAYMENT"), "{letter}");
        assert!(letter.contains("<history>") && letter.contains("CNY 8000.00"), "{letter}");
    }

    #[test]
    fn render_fills_values_and_refuses_holes() {
        let mut v = Values::new();
        v.insert("invoice", "INV-1".into());
        assert_eq!(render("bill {{invoice}} / {{ invoice }}.", &v).unwrap(), "bill INV-1 / INV-1.");
        let e = render("bill {{invoice}} for {{tenant_name}}", &v).unwrap_err();
        assert_eq!(e.field, "{{tenant_name}}");
        assert!(render("bill {{invoice", &v).unwrap_err().message.contains("unclosed"));
    }

    #[test]
    fn client_overrides_are_validated_with_the_field_named() {
        let mut s = TemplateSet { version: "2".into(), messages: BTreeMap::new(), letter: None };
        s.messages.insert("overdue-gentle".into(), m("Late {{invoice}}", "pay {{amount}} now", "{{history}}"));
        s.messages.insert("legal-warning".into(), m("two\nlines", "ok {{invoice}}", "ok"));
        let errs = s.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["messages.legal-warning.subject", "messages.overdue-gentle.short", "messages.overdue-gentle.body"]
        );
        assert!(errs[1].message.contains("unknown placeholder {{amount}}"), "{}", errs[1]);
        assert!(errs[2].message.contains("letter only"), "{}", errs[2]);
        // Ids the client did not override come from the defaults.
        s.messages.remove("legal-warning");
        assert_eq!(s.message("reminder-before-due"), TemplateSet::defaults().message("reminder-before-due"));
        assert_eq!(s.message("overdue-gentle").unwrap().subject, "Late {{invoice}}");
        assert_eq!(s.message("no-such-template"), None);
    }
}
