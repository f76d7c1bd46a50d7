//! The four mails, each as plain text and HTML. Every value that comes from a learner
//! (their display name) or from a link is escaped in the HTML; the plain text carries
//! the same words and the links in full, for clients that show no HTML.

use chrono::NaiveDate;

/// A rendered mail's subject and parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the weekly summary tells (the lead's league outcome and streak, converted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeeklySummary {
    /// The ISO week summed up, e.g. `2026-W49`.
    pub week: String,
    /// XP earned in the week.
    pub xp: i64,
    /// The league line, when the learner played in a league that week.
    pub league: Option<LeagueLine>,
    /// The learner's streak at the end of the week, in days.
    pub streak: Option<u32>,
}

/// The learner's league result of the week.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeagueLine {
    /// Tier names as shown to learners (`Silver`).
    pub tier_before: String,
    pub tier_after: String,
    /// Final rank in the cohort, 1-based.
    pub rank: u32,
}

/// HTML-escapes text (element content and double-quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn greeting(name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("Hi {name},"),
        None => "Hi,".to_string(),
    }
}

/// The HTML frame every mail shares: one column, inline styles (mail clients drop
/// style sheets), a button for the main link and the link written out below it.
fn html_page(
    title: &str,
    paragraphs: &[String],
    button: Option<(&str, &str)>,
    footer: &str,
) -> String {
    let mut body = String::new();
    for p in paragraphs {
        body.push_str(&format!(
            "<p style=\"margin:0 0 16px;font-size:16px;line-height:1.5\">{p}</p>\n"
        ));
    }
    if let Some((label, url)) = button {
        let url = escape(url);
        body.push_str(&format!(
            "<p style=\"margin:24px 0\"><a href=\"{url}\" style=\"background:#4f46e5;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:bold\">{}</a></p>\n\
             <p style=\"margin:0 0 16px;font-size:13px;color:#555555\">Or open this link: <a href=\"{url}\">{url}</a></p>\n",
            escape(label)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"margin:0;padding:24px;background:#f4f4f7;font-family:Arial,Helvetica,sans-serif;color:#1f2937\">\n\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;padding:32px;border-radius:8px\">\n\
         <h1 style=\"margin:0 0 24px;font-size:22px\">{title}</h1>\n{body}\
         <p style=\"margin:32px 0 0;font-size:12px;color:#6b7280\">{footer}</p>\n</div>\n</body></html>\n",
        title = escape(title),
    )
}

const SIGNATURE: &str = "The QuestPath team";

/// "Confirm your email": sent at sign-up and on request.
pub fn verify_email(name: Option<&str>, link: &str, valid_days: i64) -> Rendered {
    let subject = "Confirm your email for QuestPath".to_string();
    let text = format!(
        "{}\n\nPlease confirm that this is your email address by opening this link:\n\n{link}\n\n\
         The link works once and for {valid_days} days. If you did not sign up for QuestPath, \
         ignore this mail.\n\n{SIGNATURE}\n",
        greeting(name)
    );
    let html = html_page(
        "Confirm your email",
        &[
            escape(&greeting(name)),
            "Please confirm that this is your email address.".into(),
        ],
        Some(("Confirm my email", link)),
        &format!(
            "The link works once and for {valid_days} days. If you did not sign up for QuestPath, ignore this mail."
        ),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

/// "Reset your password": the only way back in without the old password.
pub fn password_reset(name: Option<&str>, link: &str, valid_minutes: i64) -> Rendered {
    let subject = "Reset your QuestPath password".to_string();
    let text = format!(
        "{}\n\nSomeone (hopefully you) asked to reset the password of your QuestPath account. \
         To choose a new password, open this link:\n\n{link}\n\n\
         The link works once and for {valid_minutes} minutes. Resetting signs you out on every \
         device. If you did not ask for this, ignore this mail: your password stays as it is.\n\n\
         {SIGNATURE}\n",
        greeting(name)
    );
    let html = html_page(
        "Reset your password",
        &[
            escape(&greeting(name)),
            "Someone (hopefully you) asked to reset the password of your QuestPath account.".into(),
        ],
        Some(("Choose a new password", link)),
        &format!(
            "The link works once and for {valid_minutes} minutes. Resetting signs you out on every device. \
             If you did not ask for this, ignore this mail: your password stays as it is."
        ),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

fn days(n: u32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// "Your streak is at risk": the learner's evening has come and today's goal is open.
pub fn streak_at_risk(
    name: Option<&str>,
    streak: u32,
    local_date: NaiveDate,
    app_link: &str,
    unsubscribe_link: &str,
) -> Rendered {
    let subject = format!("Your {} streak is at risk", days(streak));
    let date = local_date.format("%A, %B %-d");
    let footer = "You get this mail because you turned on streak reminders.";
    let text = format!(
        "{}\n\nYou have kept your QuestPath streak for {}. Today ({date}) your daily goal \
         is not reached yet: a short quiz before midnight keeps the streak going.\n\n\
         Continue learning: {app_link}\n\n{SIGNATURE}\n\n--\n{footer} \
         Stop these reminders: {unsubscribe_link}\n",
        greeting(name),
        days(streak),
    );
    let html = html_page(
        &subject,
        &[
            escape(&greeting(name)),
            format!(
                "You have kept your QuestPath streak for <strong>{}</strong>. Today ({}) your daily goal \
                 is not reached yet: a short quiz before midnight keeps the streak going.",
                days(streak),
                escape(&date.to_string())
            ),
        ],
        Some(("Continue learning", app_link)),
        &format!(
            "{footer} <a href=\"{}\">Stop these reminders</a>.",
            escape(unsubscribe_link)
        ),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

/// The weekly summary: XP, league move, streak.
pub fn weekly_summary(
    name: Option<&str>,
    summary: &WeeklySummary,
    app_link: &str,
    unsubscribe_link: &str,
) -> Rendered {
    let subject = format!("Your QuestPath week {}", summary.week);
    let mut lines = vec![format!("You earned {} XP this week.", summary.xp)];
    if let Some(league) = &summary.league {
        let moved = if league.tier_after == league.tier_before {
            format!("you stay in the {} league", league.tier_after)
        } else {
            format!(
                "you move from the {} to the {} league",
                league.tier_before, league.tier_after
            )
        };
        lines.push(format!(
            "You finished #{} in your league: {moved}.",
            league.rank
        ));
    }
    if let Some(streak) = summary.streak.filter(|s| *s > 0) {
        lines.push(format!("Your streak: {}.", days(streak)));
    }
    let footer = "You get this mail because you turned on the weekly summary.";
    let text = format!(
        "{}\n\n{}\n\nSee you this week: {app_link}\n\n{SIGNATURE}\n\n--\n{footer} \
         Stop these summaries: {unsubscribe_link}\n",
        greeting(name),
        lines.join("\n"),
    );
    let mut paragraphs = vec![escape(&greeting(name))];
    paragraphs.extend(lines.iter().map(|l| escape(l)));
    let html = html_page(
        &subject,
        &paragraphs,
        Some(("Open QuestPath", app_link)),
        &format!(
            "{footer} <a href=\"{}\">Stop these summaries</a>.",
            escape(unsubscribe_link)
        ),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_text_is_escaped_in_html_and_links_are_in_both_parts() {
        let name = "<script>alert('x')</script> & co";
        let link = "http://127.0.0.1:8080/#/reset-password?token=a&b";
        let mail = password_reset(Some(name), link, 30);
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.html.contains("token=a&amp;b"));
        assert!(mail.text.contains(link));
        assert!(mail.text.contains("30 minutes"));
    }

    #[test]
    fn every_mail_has_a_subject_both_parts_and_its_links() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let summary = WeeklySummary {
            week: "2026-W49".into(),
            xp: 340,
            league: Some(LeagueLine {
                tier_before: "Bronze".into(),
                tier_after: "Silver".into(),
                rank: 3,
            }),
            streak: Some(12),
        };
        let mails = [
            verify_email(None, "http://x/#/verify-email?token=v", 7),
            password_reset(Some("Ada"), "http://x/#/reset-password?token=r", 30),
            streak_at_risk(
                Some("Ada"),
                1,
                date,
                "http://x/",
                "http://x/#/unsubscribe?token=u",
            ),
            weekly_summary(
                Some("Ada"),
                &summary,
                "http://x/",
                "http://x/#/unsubscribe?token=u",
            ),
        ];
        for mail in &mails {
            assert!(!mail.subject.is_empty());
            assert!(mail.text.contains("http://x/"), "{}", mail.text);
            assert!(mail.html.starts_with("<!DOCTYPE html>"));
        }
        assert_eq!(mails[2].subject, "Your 1 day streak is at risk");
        assert!(mails[2].text.contains("Saturday, December 5"));
        assert!(
            mails[3]
                .text
                .contains("from the Bronze to the Silver league")
        );
        assert!(mails[3].text.contains("#/unsubscribe?token=u"));
    }
}
