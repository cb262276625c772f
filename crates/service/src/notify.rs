//! E-mail notifications (issue 18 point 11). An organisation may choose to receive an
//! e-mail at an address it gives when a hand-over to it arrives, when a report back it
//! owes is due or overdue, and when an amendment notice arrives. The mail names only
//! what happened, the organisation and a link to the screen: never a patient's name,
//! kana, birth date, identifier or any note text.
//!
//! Mail is sent after the write that caused it has committed, never inside it: a
//! hand-over's proposal and an amendment start a dispatch once they are committed, and
//! the variance sweep dispatches the reports that are due or overdue. Each notification
//! is claimed in `notifications_sent` before it is sent, so it goes out once per event
//! (and once per report and state); a failed send gives the claim back, is logged
//! without patient data and counted on `/metrics`, and never fails a request. Without
//! SMTP settings nothing is sent.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use renkei_domain::Rule;
use renkei_domain::handover::HandoverState;
use renkei_store::handovers as store_handovers;
use renkei_store::notices as store_notices;
use renkei_store::notify as store;
use renkei_store::queries;
use renkei_store::reports::{self as store_reports, ReportSide};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::admin_orgs::{AdminBy, refuse};
use crate::audit::{Outcome, RequestMeta, record};
use crate::{ServiceError, Services, begin_write};

/// How to reach the SMTP server, and the address links in the mail start with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The web UI's address as users reach it (`https://renkei.example.jp`).
    pub base_url: String,
}

/// The server's mail sender; holds no settings until SMTP is configured.
#[derive(Default)]
pub struct Notifier {
    smtp: RwLock<Option<SmtpSettings>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("configured", &self.settings().is_some())
            .finish()
    }
}

impl Notifier {
    pub fn new(smtp: Option<SmtpSettings>) -> Arc<Self> {
        Arc::new(Notifier {
            smtp: RwLock::new(smtp),
        })
    }

    /// Sets (or clears) the SMTP settings.
    pub fn configure(&self, smtp: Option<SmtpSettings>) {
        if let Ok(mut s) = self.smtp.write() {
            *s = smtp;
        }
    }

    pub fn settings(&self) -> Option<SmtpSettings> {
        self.smtp.read().ok().and_then(|s| s.clone())
    }
}

/// One organisation's choice, as the API, the CLI and the administration page show it.
/// No address: the organisation receives no e-mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub on_handover: bool,
    #[serde(default)]
    pub on_report: bool,
    #[serde(default)]
    pub on_notice: bool,
}

/// What a mail tells: the event, never the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    HandoverArrived,
    ReportDue,
    ReportOverdue,
    NoticeArrived,
}

/// The subject and body of a notification to organisation `org_name`, linking to `link`.
/// Only fixed words, the organisation's name and the link: no patient data.
pub fn compose(event: Event, org_name: &str, link: &str) -> (String, String) {
    let (ja, en) = match event {
        Event::HandoverArrived => ("引き継ぎ（紹介）が届きました", "A hand-over has arrived"),
        Event::ReportDue => ("返書の送付期限が近づいています", "A report back is due"),
        Event::ReportOverdue => ("返書の送付期限を過ぎています", "A report back is overdue"),
        Event::NoticeArrived => (
            "記録の訂正のお知らせが届きました",
            "An amendment notice has arrived",
        ),
    };
    let subject = format!("[Renkei] {ja} / {en}");
    let body = format!(
        "{org_name} 様\n\n{ja}。\n内容は Renkei にログインしてご確認ください:\n{link}\n\n\
         {en} for {org_name}.\nLog in to Renkei to see it:\n{link}\n\n\
         このメールは Renkei から自動で送信されています。患者さんの情報は含まれていません。\n\
         This message was sent automatically by Renkei and contains no patient data.\n"
    );
    (subject, body)
}

async fn send_mail(
    smtp: &SmtpSettings,
    to: &str,
    subject: String,
    body: String,
) -> Result<(), String> {
    let message = Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("from: {e}"))?)
        .to(to.parse().map_err(|e| format!("to: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(u.clone(), p.clone()));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn validate(s: &NotificationSettings) -> Result<Option<String>, ServiceError> {
    let email = s
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    match &email {
        Some(e) if e.parse::<lettre::Address>().is_err() => Err(ServiceError::field(
            "email",
            Rule::Format,
            "must be an e-mail address",
        )),
        None if s.on_handover || s.on_report || s.on_notice => Err(ServiceError::field(
            "email",
            Rule::Format,
            "an e-mail address is required to receive notifications",
        )),
        _ => Ok(email),
    }
}

/// The organisation's notification settings (its administrators, the regional
/// administrator and the operator may read them).
pub async fn notification_settings(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
) -> Result<NotificationSettings, ServiceError> {
    let org = queries::organization_by_code(&services.db, code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    if !by.administers(org.id) {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.notifications.read",
            "organization",
            Some(org.id.to_string()),
            "not an administrator of this organisation",
        )
        .await);
    }
    Ok(match store::settings_of(&services.db, org.id).await? {
        Some(r) => NotificationSettings {
            email: Some(r.email),
            on_handover: r.on_handover,
            on_report: r.on_report,
            on_notice: r.on_notice,
        },
        None => NotificationSettings::default(),
    })
}

/// Sets the organisation's notification settings (its organisation administrator, the
/// regional administrator or the operator); audited.
pub async fn set_notification_settings(
    services: &Services,
    by: AdminBy<'_>,
    meta: &RequestMeta,
    code: &str,
    settings: NotificationSettings,
) -> Result<NotificationSettings, ServiceError> {
    let org = queries::organization_by_code(&services.db, code)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    if !by.administers(org.id) {
        return Err(refuse(
            services,
            meta,
            by,
            "organization.notifications",
            "organization",
            Some(org.id.to_string()),
            "not an administrator of this organisation",
        )
        .await);
    }
    let email = validate(&settings)?;
    let at = services.now();
    let on = email.is_some() && (settings.on_handover || settings.on_report || settings.on_notice);
    let txn = begin_write(&services.db).await?;
    let previous = store::settings_of(&txn, org.id).await?;
    match (&email, on) {
        (Some(email), true) => {
            store::put_settings(
                &txn,
                &store::NotifySettingsRow {
                    organization_id: org.id,
                    email: email.clone(),
                    on_handover: settings.on_handover,
                    on_report: settings.on_report,
                    on_notice: settings.on_notice,
                    // Events from before the organisation chose to be told stay unmailed.
                    enabled_at: previous.map_or(at, |p| p.enabled_at),
                },
            )
            .await?;
        }
        _ => store::delete_settings(&txn, org.id).await?,
    }
    let what: Vec<&str> = [
        (settings.on_handover, "handover"),
        (settings.on_report, "report"),
        (settings.on_notice, "notice"),
    ]
    .into_iter()
    .filter(|(b, _)| on && *b)
    .map(|(_, w)| w)
    .collect();
    record(
        &txn,
        at,
        meta,
        by.audit(
            "organization.notifications",
            "organization",
            Some(org.id.to_string()),
            Outcome::Allowed,
        )
        .detail(if what.is_empty() {
            format!("{}: e-mail notifications off", org.code)
        } else {
            format!(
                "{}: e-mail notifications on ({})",
                org.code,
                what.join(", ")
            )
        }),
    )
    .await?;
    txn.commit().await?;
    notification_settings(services, AdminBy::Operator, meta, code).await
}

/// One notification to send.
struct Pending {
    key: String,
    organization_id: Uuid,
    to: String,
    org_name: String,
    event: Event,
    link: String,
}

impl Services {
    /// Starts a dispatch of the hand-overs and amendment notices that have arrived, in
    /// the background (called once the write that made them has committed). Nothing
    /// happens without SMTP settings.
    pub fn notify_soon(&self) {
        if self.notifier.settings().is_none() {
            return;
        }
        let services = self.clone();
        tokio::spawn(async move {
            if let Err(e) = services.dispatch_notifications(false).await {
                tracing::warn!(error = %e, "notification dispatch failed");
            }
        });
    }

    /// Sends every notification not yet sent to the organisations that chose them:
    /// hand-overs and amendment notices that arrived since, and (with `reports`) the
    /// reports back they owe that are due or overdue. Returns how many were sent.
    pub async fn dispatch_notifications(&self, reports: bool) -> Result<usize, ServiceError> {
        let Some(smtp) = self.notifier.settings() else {
            return Ok(0);
        };
        let now = self.now();
        let base = smtp.base_url.trim_end_matches('/').to_owned();
        let mut pending = Vec::new();
        for s in store::all_settings(&self.db).await? {
            let Some(org) = queries::organization_by_id(&self.db, s.organization_id).await? else {
                continue;
            };
            if org.deactivated_at.is_some() {
                continue;
            }
            let mut add = |key: String, event: Event, link: String| {
                pending.push(Pending {
                    key,
                    organization_id: org.id,
                    to: s.email.clone(),
                    org_name: org.name.clone(),
                    event,
                    link,
                });
            };
            if s.on_handover {
                for h in store_handovers::handovers_to_org(
                    &self.db,
                    org.id.into(),
                    &[HandoverState::Proposed],
                )
                .await?
                .into_iter()
                .filter(|h| h.proposed_at >= s.enabled_at)
                {
                    add(
                        format!("handover:{}", h.id),
                        Event::HandoverArrived,
                        format!("{base}/handovers/{}", h.id),
                    );
                }
            }
            if s.on_notice {
                for n in store_notices::open_notices(&self.db, org.id, None)
                    .await?
                    .into_iter()
                    .filter(|n| n.created_at >= s.enabled_at)
                {
                    add(
                        format!("notice:{}", n.id),
                        Event::NoticeArrived,
                        format!("{base}/care-plans/{}", n.care_plan_id),
                    );
                }
            }
            if reports && s.on_report {
                for r in
                    store_reports::unsent_reports(&self.db, org.id.into(), ReportSide::From).await?
                {
                    let (state, event) = report_state(r.due_at, now);
                    add(
                        format!("report:{}:{state}", r.id),
                        event,
                        format!("{base}/care-plans/{}", r.care_plan_id.0),
                    );
                }
            }
        }
        let keys: Vec<String> = pending.iter().map(|p| p.key.clone()).collect();
        let sent = store::sent_among(&self.db, &keys).await?;
        let mut count = 0;
        for p in pending.into_iter().filter(|p| !sent.contains(&p.key)) {
            if !store::claim(&self.db, &p.key, p.organization_id, now).await? {
                continue;
            }
            let (subject, body) = compose(p.event, &p.org_name, &p.link);
            match send_mail(&smtp, &p.to, subject, body).await {
                Ok(()) => {
                    metrics::counter!("renkei_notifications_sent_total").increment(1);
                    count += 1;
                }
                Err(e) => {
                    metrics::counter!("renkei_notifications_failed_total").increment(1);
                    tracing::warn!(
                        notification = %p.key,
                        organization = %p.organization_id,
                        error = %e,
                        "e-mail notification not sent"
                    );
                    store::release(&self.db, &p.key).await?;
                }
            }
        }
        Ok(count)
    }
}

/// A report back's state at `now`: due until its due time, overdue after.
pub fn report_state(due_at: DateTime<Utc>, now: DateTime<Utc>) -> (&'static str, Event) {
    if now > due_at {
        ("overdue", Event::ReportOverdue)
    } else {
        ("due", Event::ReportDue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_names_the_event_the_organisation_and_the_link_only() {
        for event in [
            Event::HandoverArrived,
            Event::ReportDue,
            Event::ReportOverdue,
            Event::NoticeArrived,
        ] {
            let (subject, body) = compose(event, "東病院", "https://r.example.jp/handovers/x");
            assert!(subject.starts_with("[Renkei] "));
            assert!(body.contains("東病院"));
            assert!(body.contains("https://r.example.jp/handovers/x"));
        }
    }

    #[test]
    fn a_report_is_due_until_its_time_and_overdue_after() {
        let t = Utc::now();
        assert_eq!(report_state(t, t).0, "due");
        assert_eq!(
            report_state(t, t + chrono::Duration::seconds(1)).0,
            "overdue"
        );
    }

    #[test]
    fn settings_need_an_address_to_receive_anything() {
        let mut s = NotificationSettings {
            email: None,
            on_handover: true,
            ..Default::default()
        };
        assert!(validate(&s).is_err());
        s.email = Some("not an address".into());
        assert!(validate(&s).is_err());
        s.email = Some(" renkei@east.example.jp ".into());
        assert_eq!(
            validate(&s).unwrap().as_deref(),
            Some("renkei@east.example.jp")
        );
        assert_eq!(validate(&NotificationSettings::default()).unwrap(), None);
    }
}
