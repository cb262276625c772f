//! The one wording table: every error code's title and explanation, and every field
//! rule's message, in Japanese and English. The API's problem+json and the web pages
//! take their words from here (the pages with the template item's label and range, the
//! API with the field's path), so both say the same thing.
//!
//! Every `match` here is exhaustive with no `_` arm: a new [`ErrorCode`] or [`Rule`]
//! does not compile until it has words in both languages.

use crate::error::{ErrorCode, FieldError};
use crate::rules::Rule;
use crate::template::ItemType;

/// The language of the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Japanese, the default.
    #[default]
    Ja,
    En,
}

impl Lang {
    /// The language an `Accept-Language` header prefers among the two we speak:
    /// English only when the client ranks English above Japanese (and at q > 0);
    /// Japanese otherwise, and when the header is absent or names neither.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.unwrap_or_default().split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default().trim();
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = if primary.eq_ignore_ascii_case("en") {
                Lang::En
            } else if primary.eq_ignore_ascii_case("ja") {
                Lang::Ja
            } else {
                continue;
            };
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

/// The short title of an error code (problem+json `title`, page headings).
pub fn title(code: ErrorCode, lang: Lang) -> &'static str {
    let (ja, en) = match code {
        ErrorCode::NotFound => ("指定されたデータが見つかりません", "Not found"),
        ErrorCode::Validation => ("入力内容に誤りがあります", "The input is invalid"),
        ErrorCode::MalformedRequest => (
            "リクエストの形式が正しくありません",
            "The request is malformed",
        ),
        ErrorCode::PayloadTooLarge => ("送信データが大きすぎます", "The request is too large"),
        ErrorCode::UnsupportedMediaType => (
            "送信データの種類が正しくありません",
            "Unsupported media type",
        ),
        ErrorCode::Unauthenticated => {
            ("ログインまたはトークンが必要です", "Log in or send a token")
        }
        ErrorCode::Forbidden => ("この操作を行う権限がありません", "Not allowed"),
        ErrorCode::Duplicate => ("同じデータが既に登録されています", "Already registered"),
        ErrorCode::StageOutOfOrder => ("病期の順序に合わない記録です", "Out of stage order"),
        ErrorCode::PlanNotActive => (
            "この連携パスは終了しているため記録できません",
            "The care plan has ended",
        ),
        ErrorCode::IdempotencyKeyReused => (
            "同じ Idempotency-Key が別の内容で使われています",
            "Idempotency-Key reused with another request",
        ),
        ErrorCode::IdempotencyKeyInvalid => (
            "Idempotency-Key の形式が正しくありません",
            "Invalid Idempotency-Key",
        ),
        ErrorCode::InvalidTransition => (
            "現在の状態ではこの操作はできません",
            "Not possible in the current state",
        ),
        ErrorCode::PreconditionFailed => (
            "他の利用者が先に更新しました。最新の内容を確認してください",
            "Someone else changed it first; read the latest version",
        ),
        ErrorCode::PreconditionRequired => ("If-Match ヘッダーが必要です", "If-Match required"),
        ErrorCode::Unavailable => (
            "現在混み合っています。しばらくしてから再度お試しください",
            "Busy; try again shortly",
        ),
        ErrorCode::Internal => ("システムエラーが発生しました", "Internal error"),
        ErrorCode::MethodNotAllowed => (
            "この URL ではその操作（HTTP メソッド）は使えません",
            "Method not allowed here",
        ),
    };
    pick(lang, ja, en)
}

/// What an error code means for the person at the screen, and what to do next (the
/// error pages). Codes without more to say repeat their title.
pub fn explanation(code: ErrorCode, lang: Lang) -> &'static str {
    let (ja, en) = match code {
        ErrorCode::NotFound => (
            "お探しの情報は見つからないか、閲覧する権限がありません。連携パスは、ケアチームに参加し患者さんの同意がある施設だけが閲覧できます。",
            "What you are looking for does not exist or you may not see it. A care plan is visible only to organisations on its care team that the patient's consent covers.",
        ),
        ErrorCode::Forbidden => (
            "この操作は、あなたの施設または職種には許可されていません。必要な場合は計画管理病院の地域連携室にご相談ください。",
            "Your organisation or profession may not do this. If you need to, ask the planning hospital's regional liaison office.",
        ),
        ErrorCode::PreconditionFailed => (
            "他の利用者が先に更新しました。画面を開き直して最新の内容を確認してから、もう一度操作してください。",
            "Someone else changed this first. Reopen the page, check the latest version and try again.",
        ),
        ErrorCode::InvalidTransition => (
            "現在の状態ではこの操作はできません。画面を開き直して、最新の状態を確認してください。",
            "This is not possible in the current state. Reopen the page to see the latest state.",
        ),
        ErrorCode::StageOutOfOrder => (
            "病期の順序に合わない記録です。現在の病期を確認してください(病期の開始前、または終了後です)。",
            "This entry does not fit the order of stages: check the current stage (it has not started or has ended).",
        ),
        ErrorCode::PlanNotActive => (
            "この連携パスは終了または中止されているため、記録できません。",
            "This care plan has been completed or withdrawn; nothing more can be recorded.",
        ),
        ErrorCode::IdempotencyKeyReused => (
            "この入力画面はすでに確定に使われました。新しい入力画面を開いてから入力してください。",
            "This form has already been submitted. Open a new form to enter more.",
        ),
        ErrorCode::Unavailable => (
            "現在混み合っています。しばらく待ってから、もう一度お試しください。",
            "The system is busy. Wait a moment and try again.",
        ),
        ErrorCode::Internal => (
            "システムエラーが発生しました。時間をおいて再度お試しください。解決しない場合はシステム管理者に連絡してください。",
            "A system error occurred. Try again later; if it persists, contact your system administrator.",
        ),
        ErrorCode::Validation
        | ErrorCode::MalformedRequest
        | ErrorCode::PayloadTooLarge
        | ErrorCode::UnsupportedMediaType
        | ErrorCode::Unauthenticated
        | ErrorCode::Duplicate
        | ErrorCode::IdempotencyKeyInvalid
        | ErrorCode::PreconditionRequired
        | ErrorCode::MethodNotAllowed => return title(code, lang),
    };
    pick(lang, ja, en)
}

/// What the message of a field error may say about the field beyond its path.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldFacts<'a> {
    /// The field as people know it (a template item's title); the path when `None`.
    pub label: Option<&'a str>,
    /// The values allowed (`0〜42`, `0・5・10`), when a template says.
    pub range: Option<&'a str>,
    /// Whether `range` lists the allowed values rather than bounds.
    pub is_list: bool,
    /// The template item's type, for `type` errors.
    pub item_type: Option<ItemType>,
}

/// The bounds a range error's detail states (`must be between 0 and 6`, `must be at
/// least 1 mmHg`), as Japanese (`0〜6`, `1 mmHg以上`) and English words.
fn range_of_detail(detail: &str) -> Option<(String, String)> {
    if let Some(rest) = detail.strip_prefix("must be between ") {
        let (min, max) = rest.split_once(" and ")?;
        return Some((format!("{min}〜{max}"), format!("between {min} and {max}")));
    }
    if let Some(min) = detail.strip_prefix("must be at least ") {
        return Some((format!("{min}以上"), format!("at least {min}")));
    }
    if let Some(max) = detail.strip_prefix("must be at most ") {
        return Some((format!("{max}以下"), format!("at most {max}")));
    }
    None
}

/// The message people read for a field error, in `lang`. The API sends it as
/// `errors[].message` (with the path as label); the web pages show it with the template
/// item's label and range.
pub fn field_message(e: &FieldError, lang: Lang, facts: &FieldFacts<'_>) -> String {
    let en = lang == Lang::En;
    let label = match (facts.label, e.field.as_str()) {
        (Some(l), _) => l.to_owned(),
        (None, "") if en => "the request".to_owned(),
        (None, "") => "リクエスト".to_owned(),
        (None, f) if en => format!("`{f}`"),
        (None, f) => format!("「{f}」"),
    };
    let l = label.as_str();
    let field = e.field.as_str();
    let is_value = field.starts_with("values.");
    let both = |ja: String, en_text: String| if en { en_text } else { ja };
    match e.code {
        Rule::Range | Rule::Allowed | Rule::Step if facts.range.is_some() => {
            let r = facts.range.unwrap_or_default();
            if facts.is_list {
                both(
                    format!("{l}は {r} のいずれかを選んでください。"),
                    format!("{l}: choose one of {r}."),
                )
            } else {
                both(
                    format!("{l}は {r} の範囲で入力してください。"),
                    format!("{l} must be within {r}."),
                )
            }
        }
        Rule::Range => match range_of_detail(&e.message) {
            Some((ja, en_range)) => both(
                format!("{l}は {ja} の範囲で入力してください。"),
                format!("{l} must be {en_range}."),
            ),
            None => both(
                format!("{l}の入力内容を確認してください。"),
                format!("{l} is out of range."),
            ),
        },
        Rule::Allowed => both(
            format!("{l}は選択肢の中から選んでください。"),
            format!("Choose {l} from the options."),
        ),
        Rule::Step => both(
            format!("{l}の値の刻みが正しくありません。"),
            format!("{l} is not a valid step."),
        ),
        Rule::Type => match facts.item_type {
            Some(ItemType::Integer | ItemType::Composite) => both(
                format!("{l}は半角の整数で入力してください。"),
                format!("{l} must be a whole number."),
            ),
            Some(ItemType::Decimal) => both(
                format!("{l}は数値で入力してください。"),
                format!("{l} must be a number."),
            ),
            Some(ItemType::Date) => both(
                format!("{l}は日付(例 2026-04-01)で入力してください。"),
                format!("{l} must be a date (e.g. 2026-04-01)."),
            ),
            Some(ItemType::Datetime) => both(
                format!("{l}は日時(例 2026-04-01 09:30)で入力してください。"),
                format!("{l} must be a date and time (e.g. 2026-04-01 09:30)."),
            ),
            Some(ItemType::Boolean) => both(
                format!("{l}は「はい」か「いいえ」を選んでください。"),
                format!("Answer {l} with yes or no."),
            ),
            Some(ItemType::Choice) => both(
                format!("{l}は選択肢の中から選んでください。"),
                format!("Choose {l} from the options."),
            ),
            Some(ItemType::Text) => both(
                format!("{l}は文字で入力してください。"),
                format!("{l} must be text."),
            ),
            None => both(
                format!("{l}の形式が正しくありません。項目の説明に沿って入力してください。"),
                format!("{l} has the wrong type: enter it as the field describes."),
            ),
        },
        Rule::Required | Rule::Format if field == "effective_at" => both(
            format!("{l}を日時(例 2026-04-01 09:30、日本時間)で入力してください。"),
            format!("Enter {l} as a date and time (e.g. 2026-04-01 09:30, Japan time)."),
        ),
        Rule::Required => match field {
            "variant" => both(
                "パスの種類(病型・術式など)を選んでください。この連携パスは種類ごとに期間や目標が異なります。".into(),
                "Choose the pathway variant (subtype, operation …): this pathway's lengths and goals differ by variant.".into(),
            ),
            "values" => both(
                "評価項目を1つ以上入力してください。".into(),
                "Enter at least one assessment item.".into(),
            ),
            "note" => both(
                "記録(メモ)の本文を入力してください。".into(),
                "Write the text of the note.".into(),
            ),
            "reason" => both("理由を入力してください。".into(), "Give a reason.".into()),
            "variance" => both(
                "バリアンスの種類を選んでください。".into(),
                "Choose the kind of variance.".into(),
            ),
            _ if is_value => both(
                format!("{l}は必須です(この病期の開始・終了時に記録が必要な項目です)。"),
                format!("{l} is required (this stage needs it at its start or end)."),
            ),
            _ => both(format!("{l}を入力してください。"), format!("Enter {l}.")),
        },
        Rule::Incomplete => both(
            format!("{l}は全項目がそろうと自動計算されます。すべての項目を入力してください。"),
            format!("{l} is computed once all its items are given: enter every item."),
        ),
        Rule::CompositeMismatch => both(
            format!("{l}が各項目の合計と一致しません(合計はサーバーで計算します)。"),
            format!("{l} is not the sum of its items (the server computes the total)."),
        ),
        Rule::InFuture => both(
            format!("{l}に未来の日時は指定できません。現在までの日時を入力してください。"),
            format!("{l} must not be in the future: enter a time up to now."),
        ),
        Rule::AfterNextStageStart => both(
            format!("{l}が次の病期の開始(転院先の受入)より後です。"),
            format!("{l} is after the next stage started (the receiver's admission)."),
        ),
        Rule::BeforePlanStart => both(
            format!("{l}がパスの開始日より前です。パスの開始日以降の日時を入力してください。"),
            format!("{l} is before the care plan started: enter a time on or after its start."),
        ),
        Rule::AfterAdmission => both(
            format!("{l}が入院(病期の開始)より後になっています。入院日時以前の日時を入力してください。"),
            format!("{l} is after the admission (the stage start): enter a time on or before the admission."),
        ),
        Rule::BeforeOnset => both(
            "病期の開始日時が発症(受傷)日時より前です。発症日時以降の日時を入力してください。".into(),
            "The stage starts before the onset (injury): enter a time on or after the onset.".into(),
        ),
        Rule::Implausible if field == "birth_date" => both(
            "この生年月日では年齢が120歳を超えます。生年月日(西暦)を確認し、正しければ「この内容で登録する」にチェックしてください。".into(),
            "This date of birth makes the patient older than 120: check it, and if it is right tick \"register as entered\".".into(),
        ),
        Rule::Implausible => both(
            format!("{l}はまれな値です。確認し、正しければ「この内容で登録する」にチェックしてください。"),
            format!("{l} is unusual: check it, and if it is right tick \"register as entered\"."),
        ),
        Rule::BeforeStageStart => both(
            format!("{l}がこの病期の開始日時より前です。"),
            format!("{l} is before the stage started."),
        ),
        Rule::AfterStageEnd => both(
            format!("{l}がこの病期の終了日時より後です。"),
            format!("{l} is after the stage ended."),
        ),
        Rule::TooLong | Rule::MaxLength => both(
            format!("{l}が長すぎます。"),
            format!("{l} is too long."),
        ),
        Rule::TooShort => both(
            format!("{l}が短すぎます。"),
            format!("{l} is too short."),
        ),
        Rule::Length => both(
            format!("{l}の長さが正しくありません。"),
            format!("{l} has the wrong length."),
        ),
        Rule::ControlCharacter | Rule::InvalidCharacter | Rule::BidiControl => both(
            format!("{l}に使用できない文字が含まれています。"),
            format!("{l} contains characters that are not allowed."),
        ),
        Rule::NotOnForm => both(
            format!("{l}はこの様式にない項目です。"),
            format!("{l} is not a field of this form."),
        ),
        Rule::FormRequired => both(
            format!("{l}はこの様式で必須の項目です。"),
            format!("{l} is required on this form."),
        ),
        Rule::UnknownItem | Rule::NotInStage => both(
            format!("{l}はこの病期では記録できません。"),
            format!("{l} is not recorded in this stage."),
        ),
        Rule::UnknownVariance => both(
            "バリアンスの種類を一覧から選んでください。".into(),
            "Choose the kind of variance from the list.".into(),
        ),
        Rule::UnknownGoal => both(
            "達成目標を一覧から選んでください。".into(),
            "Choose the goal from the list.".into(),
        ),
        Rule::AmendAmendment => both(
            "修正記録はさらに修正できません。元の記録を修正してください。".into(),
            "An amendment cannot be amended; amend the original entry.".into(),
        ),
        Rule::AlreadyAmended => both(
            "この版はすでに修正されています。最新の版を修正してください。".into(),
            "This version has already been corrected; correct the latest version.".into(),
        ),
        Rule::Voided => both(
            "取消された記録は修正・取消できません。".into(),
            "An entry entered in error can be neither corrected nor voided.".into(),
        ),
        Rule::AmendKind | Rule::AmendStage => both(
            "修正記録は元の記録と同じ種類・病期で作成します。".into(),
            "An amendment keeps the kind and stage of the original entry.".into(),
        ),
        Rule::InPast => both(
            format!("{l}に過去の日付は指定できません。今日以降の日付を入力してください。"),
            format!("{l} must not be in the past: enter today or a later day."),
        ),
        Rule::PlannerKind => both(
            "この連携パスは、テンプレートが計画策定施設として定める種別の施設だけが開始できます。計画策定施設に依頼してください。".into(),
            "Only an organisation of a kind the template names as planner may enrol a patient on this pathway: ask the planning organisation.".into(),
        ),
        Rule::PlannerStays => both(
            "計画管理病院は連携先から外せません(計画には計画管理病院が必要です)。".into(),
            "The planning hospital cannot leave the care team (the plan needs its planner).".into(),
        ),
        Rule::StageRunning => both(
            "この施設は実施中の病期の担当です。病期の終了後に終了・除外してください。".into(),
            "This organisation owns the stage now running: end its access after that stage ends.".into(),
        ),
        Rule::NotAllowed => both(
            format!("{l}はこの種類の記録には入力できません。"),
            format!("{l} is not allowed in this kind of entry."),
        ),
        Rule::Kana => both(
            format!("{l}はカタカナまたはひらがなで入力してください。"),
            format!("{l} must be written in kana (katakana or hiragana)."),
        ),
        Rule::Format if field == "birth_date" => both(
            "生年月日は西暦(例 1948-05-03、19480503)または和暦(例 S23.5.3)で入力してください。"
                .into(),
            "Enter the date of birth as a Western date (e.g. 1948-05-03, 19480503) or a Japanese era date (e.g. S23.5.3).".into(),
        ),
        Rule::Format if field.starts_with("identifier") => both(
            "患者ID(カルテ番号)を1〜64文字(制御文字を除く)で入力してください。".into(),
            "Enter the patient number as 1 to 64 printable characters.".into(),
        ),
        Rule::Format => both(
            format!("{l}の形式が正しくありません。"),
            format!("{l} is not in the right format."),
        ),
        Rule::Unknown if field == "variant" => both(
            "パスの種類が正しくありません。この版の連携パスにある種類から選んでください(種類のない連携パスでは指定しません)。".into(),
            "Not a variant of this pathway version: choose one of its variants (a pathway without variants takes none).".into(),
        ),
        Rule::Unknown | Rule::UnknownEntry => both(
            format!("{l}が見つかりません。一覧から選んでください。"),
            format!("{l} does not exist; choose one from the list."),
        ),
        Rule::UnknownStage | Rule::NotNext => both(
            format!("{l}が正しくありません(次の病期を選んでください)。"),
            format!("{l} is not right (choose the next stage)."),
        ),
        Rule::ToSelf => both(
            "自施設には紹介できません。別の施設を選んでください。".into(),
            "You cannot refer to your own organisation; choose another one.".into(),
        ),
        Rule::ConsentNotCovering => both(
            "患者の同意の共有範囲にこの紹介先施設が含まれていません。先に紹介先を含む同意(ケアチーム全体、または紹介先を指定)を記録してください。".into(),
            "The patient's consent does not cover this receiving organisation. First record a consent that includes it (the whole care team, or naming the receiver).".into(),
        ),
        Rule::OwnIdentifierRequired => both(
            "自施設の患者ID(カルテ番号)を入力してください。".into(),
            "Enter your own organisation's patient number.".into(),
        ),
        Rule::OwnOrganizationOnly => both(
            format!("{l}には自施設の患者IDだけを登録できます。"),
            format!("{l}: only your own organisation's patient numbers may be registered."),
        ),
        Rule::Duplicate => both(
            format!("{l}が重複しています。"),
            format!("{l} is given twice."),
        ),
        Rule::DuplicateKey => both(
            format!("{l}に同じ項目名が2回あります。"),
            format!("{l} names the same key twice."),
        ),
        Rule::ExceedsCaller => both(
            format!("{l}は、あなた自身のトークンにない権限です。"),
            format!("{l} exceeds what your own token may do."),
        ),
        Rule::Mismatch => both(
            format!("{l}が一致しません。"),
            format!("{l} does not match."),
        ),
        Rule::Unchanged => both(
            format!("{l}が現在と同じです。"),
            format!("{l} is the same as the current one."),
        ),
        Rule::Wrong => both(
            format!("{l}が正しくありません。"),
            format!("{l} is wrong."),
        ),
        Rule::Classes => both(
            "英小文字・英大文字・数字・記号のうち2種類以上を組み合わせてください。".into(),
            "Combine at least two of lower-case letters, upper-case letters, digits and symbols.".into(),
        ),
        Rule::Common => both(
            "よく使われていて推測されやすいパスワードです。別のものにしてください。".into(),
            "This password is common and easy to guess; choose another.".into(),
        ),
        Rule::ContainsLogin => both(
            "ログインIDを含むパスワードは使えません。".into(),
            "A password must not contain the login name.".into(),
        ),
        Rule::Reused => both(
            format!("{l}はすでに別の内容で使われています。"),
            format!("{l} was already used with a different request."),
        ),
        Rule::SameKind => both(
            "個別目標は元の目標と同じ種類にしてください。".into(),
            "An individual target keeps the goal's kind.".into(),
        ),
        Rule::SameItem => both(
            "個別目標は元の目標と同じ評価項目にしてください。".into(),
            "An individual target keeps the goal's item.".into(),
        ),
        // Merging two records of one person (名寄せ).
        Rule::SameRecord => both(
            "同じ患者記録どうしは名寄せできません。別の記録を選んでください。".into(),
            "A record cannot be merged with itself; choose another record.".into(),
        ),
        Rule::AlreadyMerged => both(
            "この患者記録はすでに別の記録に名寄せされています。名寄せ先の記録を選んでください。".into(),
            "This record is already merged into another one; choose the record it was merged into.".into(),
        ),
        Rule::HasMergedRecords => both(
            "この患者記録には他の記録が名寄せされています。先にその名寄せを取り消すか、この記録を残す側にしてください。".into(),
            "Other records are merged into this one: reverse those merges first, or keep this record.".into(),
        ),
        Rule::Unconfirmed => both(
            format!("{l}が2つの記録で異なります。同一人物であることを確認し、「違いを確認した」にチェックしてください。"),
            format!("{l} differs between the two records: check they are one person and tick \"differences checked\"."),
        ),
        Rule::AlreadyReversed => both(
            "この名寄せはすでに取り消されています。".into(),
            "This merge has already been reversed.".into(),
        ),
    }
}

fn pick(lang: Lang, ja: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

// ------------------------------------------------------------------ goals and variances

/// A goal's status in words (the badges of the plan page, the print and the hand-over):
/// a numeric target not met says whether the value is below or above its range.
pub fn goal_state(
    state: crate::goals::GoalState,
    deviation: Option<crate::goals::DeviationDirection>,
    lang: Lang,
) -> &'static str {
    use crate::goals::{DeviationDirection, GoalState};
    let (ja, en) = match (state, deviation) {
        (GoalState::NotMet, Some(DeviationDirection::BelowRange)) => ("下限未満", "Below range"),
        (GoalState::NotMet, Some(DeviationDirection::AboveRange)) => ("上限超過", "Above range"),
        (GoalState::NotMet, None) => ("未達", "Not met"),
        (GoalState::Met, _) => ("達成", "Met"),
        (GoalState::Pending, _) => ("評価待ち", "Pending"),
        (GoalState::Overdue, _) => ("期限超過", "Overdue"),
        (GoalState::NotApplicable, _) => ("対象外", "Not applicable"),
    };
    pick(lang, ja, en)
}

/// The bound a value fell below or rose above, in words (`bound` already formatted).
pub fn goal_bound(direction: crate::goals::DeviationDirection, bound: &str, lang: Lang) -> String {
    use crate::goals::DeviationDirection;
    match (direction, lang) {
        (DeviationDirection::BelowRange, Lang::Ja) => format!("下限 {bound}"),
        (DeviationDirection::BelowRange, Lang::En) => format!("lower limit {bound}"),
        (DeviationDirection::AboveRange, Lang::Ja) => format!("上限 {bound}"),
        (DeviationDirection::AboveRange, Lang::En) => format!("upper limit {bound}"),
    }
}

/// The directions of the variance code scheme: (code part, Japanese, English).
pub const VARIANCE_DIRECTIONS: &[(&str, &str, &str)] =
    &[("POS", "正", "Positive"), ("NEG", "負", "Negative")];
/// The levels of the variance code scheme.
pub const VARIANCE_LEVELS: &[(&str, &str, &str)] = &[
    ("VAR", "変動", "Variation"),
    ("DEV", "逸脱", "Deviation"),
    ("DROP", "脱落", "Dropout"),
];
/// The cause categories of the variance code scheme; `UN` until a person classifies an
/// automatic variance.
pub const VARIANCE_CAUSES: &[(&str, &str, &str)] = &[
    ("PT", "患者・家族要因", "Patient or family"),
    ("ST", "医療者要因", "Staff"),
    ("SY", "施設・システム要因", "System"),
    ("CO", "地域・社会要因", "Community or social"),
    ("UN", "未分類", "Unclassified"),
];

/// The words of `part` in one of the tables above.
pub fn variance_part(
    table: &[(&str, &'static str, &'static str)],
    part: &str,
    lang: Lang,
) -> Option<&'static str> {
    table
        .iter()
        .find(|(code, _, _)| *code == part)
        .map(|(_, ja, en)| pick(lang, ja, en))
}

/// How a person reviewed an automatic variance, in words.
pub fn variance_review(dismissed: bool, lang: Lang) -> &'static str {
    if dismissed {
        pick(
            lang,
            "取消(バリアンスではない)",
            "Dismissed (not a variance)",
        )
    } else {
        pick(lang, "分類済み", "Classified")
    }
}

/// The title of an automatic variance.
pub fn automatic_variance(lang: Lang) -> &'static str {
    pick(lang, "自動検出", "Detected automatically")
}

impl ErrorCode {
    /// The Japanese title (problem+json `title`, page headings).
    pub fn title_ja(self) -> &'static str {
        title(self, Lang::Ja)
    }
}

/// The fixed words of the web screens (headings, labels, buttons, column heads), in
/// Japanese with their English. Clinical content (template titles, values, notes) is
/// not here: it stays Japanese in both languages.
const UI_TEXT: &[(&str, &str)] = &[
    ("作業一覧", "Worklist"),
    ("患者検索", "Patients"),
    ("連携受信箱・送信箱", "Hand-overs"),
    ("施設一覧", "Facilities"),
    ("パステンプレート", "Pathways"),
    ("管理・監査", "Admin & audit"),
    ("メインメニュー", "Main menu"),
    ("本文へ移動", "Skip to content"),
    ("ログアウト", "Log out"),
    ("すべて", "All"),
    ("受入依頼", "Incoming requests"),
    ("紹介中", "Referred"),
    ("返書の送付", "Reports to send"),
    ("返書待ち", "Reports awaited"),
    ("予定・期限", "Visits and deadlines"),
    ("目標の期限超過", "Goals overdue"),
    ("同意未取得", "Consent missing"),
    ("記録途絶", "No recent records"),
    ("返書の到着", "Reports arrived"),
    ("作業の種類", "Kind of work"),
    ("作業一覧の絞り込み", "Filter the worklist"),
    ("連携パス", "Pathway"),
    ("期限", "Due"),
    ("絞り込む", "Filter"),
    ("該当する作業はありません。", "Nothing to do here."),
    ("状態", "Status"),
    ("患者", "Patient"),
    ("連携パス・病期", "Pathway and stage"),
    ("作業", "Work"),
    (
        "自施設で対応が必要な連携・期限・記録の一覧です",
        "What this facility needs to act on: hand-overs, deadlines and records",
    ),
    ("時点", "as of"),
    ("未読の返書", "Unread reports back"),
    ("件", "items"),
    ("パスワードを変更する", "Change password"),
    ("二要素認証が未設定です", "Two-factor login is not set up"),
    ("設定する", "Set it up"),
    ("利用者一覧", "Users"),
    ("監査ログ", "Audit log"),
    ("監査ログの検索", "Audit log"),
    ("緊急アクセスの確認", "Emergency access review"),
    ("日時", "Time"),
    ("利用者", "User"),
    ("施設", "Facility"),
    ("操作", "Action"),
    ("対象", "Target"),
    ("IPアドレス", "IP address"),
    ("検索", "Search"),
    ("すべての連携パス", "All pathways"),
    ("期限: すべて", "Due: any"),
    ("今日まで", "Due today"),
    ("今週(7日以内)", "Within 7 days"),
    ("回答待ち", "Awaiting answer"),
    ("受入済", "Accepted"),
    ("期限内", "Due"),
    ("期限超過", "Overdue"),
    ("予定", "Scheduled"),
    ("未取得", "Missing"),
    ("未読", "Unread"),
    ("既読", "Read"),
    ("—", "—"),
    ("作業一覧(すべて)", "Worklist (all)"),
    ("パスワードを変更しました。", "Your password was changed."),
    ("患者ID", "Patient ID"),
    (
        "患者画面のURL(/patients/…)にあるIDです。",
        "The ID in the patient page's address (/patients/...).",
    ),
    ("利用者(ログインID)", "User (login)"),
    ("開始日", "From"),
    ("終了日", "To"),
    ("条件を解除", "Clear the search"),
    ("患者情報", "Patient details"),
    ("同姓同名あり", "Same name exists"),
    (
        "同じカナ氏名の患者さんが他にもいます。生年月日・患者IDで本人を確認してください",
        "Other patients have the same kana name. Confirm the patient by birth date and patient ID",
    ),
    ("同じ氏名の患者一覧", "patients with the same name"),
    ("性別", "Sex"),
    ("生年月日", "Date of birth"),
    ("自施設ID", "Our ID"),
    ("なし", "none"),
    ("他施設ID", "Other facility's ID"),
    ("進行中の連携パス", "Pathways in progress"),
    ("現在", "Now"),
    ("連携パスの適用", "Start a pathway"),
    ("入力内容を確認してください", "Please check the input"),
    ("連携パスを選んでください", "Choose a pathway"),
    ("必須", "required"),
    ("次へ", "Next"),
    ("変更する", "Change"),
    ("パスの種類", "Pathway variant"),
    (
        "病型・術式などで、期間や目標が異なります。",
        "Lengths and goals differ by subtype, operation and the like.",
    ),
    ("パス開始日(入院日)", "Pathway start (admission date)"),
    (
        "病期ごとの予定施設(施設一覧から)",
        "Planned facility per stage (from the facility list)",
    ),
    (
        "自施設(計画管理)が受け持つ病期は、施設の種別と連携パスの病期から決まります(糖尿病パスでは診療所がかかりつけ医)。ほかの病期の施設は、決まっていれば選んでください(ケアチームに加わります)。紹介はパス画面の「転院・紹介を依頼」から行います。",
        "The stages this facility (the planning hospital) takes are set by its kind and the pathway's stages (on a diabetes pathway the clinic is the family physician). Pick the facilities of the other stages if they are known (they join the care team). Referrals are made from the plan page, \"Request a transfer or referral\".",
    ),
    ("未定", "not decided"),
    (
        "患者さんの同意(情報共有への同意)",
        "Patient's consent (to sharing information)",
    ),
    (
        "説明し、同意を得た(今記録する)",
        "Explained and consented (record now)",
    ),
    (
        "まだ同意を得ていない(登録後7日以内に記録)",
        "Not yet consented (record within 7 days)",
    ),
    ("同意取得日", "Consent date"),
    ("同意の方法", "How consent was given"),
    ("書面", "On paper"),
    ("電子署名", "Electronic signature"),
    ("署名者", "Signed by"),
    ("本人", "The patient"),
    ("代諾者", "A proxy"),
    (
        "代諾者の続柄(代諾者の場合)",
        "Proxy's relationship (if a proxy signed)",
    ),
    (
        "統計・パス改善への利用にも同意(任意)",
        "Also consents to use for statistics and pathway improvement (optional)",
    ),
    ("確認画面へ", "Review"),
    ("キャンセル", "Cancel"),
    ("連携パスの適用(確認)", "Start a pathway (review)"),
    (
        "まだ登録されていません。内容を確認して「登録する」を押してください。",
        "Not registered yet. Check the content and press \"Register\".",
    ),
    ("病期と予定施設", "Stages and planned facilities"),
    ("同意", "Consent"),
    ("登録する", "Register"),
    ("戻って修正する", "Go back and edit"),
    ("キャンセル(登録しない)", "Cancel (do not register)"),
    ("確認", "review"),
    (
        "まだ確定していません。内容を確認して「確定する」を押してください。確定した記録は書き換えられません(誤りは修正記録として追加します)。",
        "Not confirmed yet. Check the content and press \"Confirm\". A confirmed record cannot be rewritten (mistakes are corrected by adding a correction).",
    ),
    ("病期", "Stage"),
    ("実施日時", "Performed at"),
    ("記録者", "Recorded by"),
    ("記録する値", "Values to record"),
    ("項目", "Item"),
    ("値", "Value"),
    ("自動計算", "computed"),
    ("バリアンス", "Variance"),
    ("記録(メモ)", "Note"),
    ("修正理由", "Reason for the correction"),
    ("確定する", "Confirm"),
    ("入力に戻る", "Back to the form"),
    ("紹介・転院の依頼", "Referral / transfer request"),
    ("紹介元からの連絡事項", "Note from the referring facility"),
    ("受入できない理由", "Reason for declining"),
    (
        "紹介状(受入判断に必要な情報)",
        "Referral letter (what the receiver needs to decide)",
    ),
    (
        "紹介状の項目はまだありません。",
        "The referral letter has no items yet.",
    ),
    (
        "紹介時のまとめ(自動作成)",
        "Summary at referral (generated)",
    ),
    ("病期のまとめ", "Stage summary"),
    ("達成目標", "Goals"),
    ("達成目標はありません。", "No goals."),
    ("最新", "latest"),
    ("最新の評価値", "Latest values"),
    ("評価値はまだありません。", "No values yet."),
    ("バリアンスはありません。", "No variances."),
    ("回答", "Answer"),
    (
        "受け入れると、自施設がケアチームに加わり、患者情報と連携パスを閲覧・記録できるようになります。",
        "Accepting adds this facility to the care team, so it can read and record the patient's information and care plan.",
    ),
    (
        "転院予定日(紹介元の提案を確定、または変更)",
        "Planned transfer date (confirm or change the sender's proposal)",
    ),
    ("受け入れる", "Accept"),
    ("受入できない", "Decline"),
    ("依頼を取り下げる", "Withdraw the request"),
    ("受信箱・送信箱へ", "Back to hand-overs"),
    ("連携パスに戻る", "Back to the care plan"),
    ("転院・紹介の依頼", "Request a transfer or referral"),
    ("依頼できませんでした", "The request could not be sent"),
    ("現在の病期", "Current stage"),
    (
        "紹介先は施設一覧(この連携パスの次の病期を受け入れると届け出た施設)から選びます。",
        "Choose the receiver from the facility list (facilities registered to take the next stage of this pathway).",
    ),
    ("送付前の確認", "Checks before sending"),
    ("済", "done"),
    ("未", "missing"),
    (
        "達成目標の状況(紹介状に添付されます)",
        "Goals (attached to the referral)",
    ),
    ("紹介先", "Receiver"),
    ("を受け入れる施設", "- facilities taking this stage"),
    (
        "この病期を受け入れる施設の届出がありません。",
        "No facility is registered to take this stage.",
    ),
    (
        "転院予定日(任意・受入側が確定または変更します)",
        "Planned transfer date (optional; the receiver confirms or changes it)",
    ),
    ("自動入力", "Prefilled"),
    (
        "連携パスの記録から入力しました。内容を確認・修正してから送ってください。",
        "Filled in from the care plan's records. Check and correct before sending.",
    ),
    ("(未選択)", "(not chosen)"),
    ("連絡事項(任意)", "Note (optional)"),
    ("依頼を送る", "Send the request"),
    ("受信: 受入依頼(未回答", "Received: requests (unanswered"),
    (
        "回答待ちの受入依頼はありません。",
        "No requests awaiting an answer.",
    ),
    (
        "受け取った紹介・転院の依頼",
        "Referral and transfer requests received",
    ),
    ("受信日時", "Received at"),
    ("紹介元", "From"),
    ("連携パス・受入の病期", "Pathway and receiving stage"),
    ("送信: 紹介中", "Sent: referrals"),
    (
        "回答待ち・受入済みの紹介はありません。",
        "No referrals awaiting an answer or accepted.",
    ),
    (
        "送った紹介・転院の依頼",
        "Referral and transfer requests sent",
    ),
    ("依頼日時", "Requested at"),
    ("返書(診療結果の報告)", "Reports back (results of care)"),
    (
        "送付待ち・到着待ちの返書はありません。",
        "No reports back to send or awaited.",
    ),
    ("返書", "Reports back"),
    ("相手", "Other party"),
    ("種類", "Kind"),
    ("返書を送付する", "Send the report back"),
    ("到着待ちの返書", "Report back awaited"),
    ("さんの連携パス", "- care plans"),
    (
        "患者を登録しました(カナはカタカナで登録されます)。続けて連携パスを適用できます。",
        "The patient was registered (kana is stored in katakana). You can now start a pathway.",
    ),
    (
        "自施設から見える連携パスはありません。",
        "No care plans visible to this facility.",
    ),
    ("連携パスの一覧", "Care plans"),
    ("計画管理病院", "Planning hospital"),
    ("連携パスを適用する", "Start a pathway"),
    (
        "閲覧履歴(この患者さんの情報を、いつ・だれが閲覧したか)",
        "Access history (who read this patient's information, and when)",
    ),
    ("患者検索へ", "Back to patient search"),
    ("新規患者の登録", "Register a new patient"),
    (
        "同じカナ氏名・生年月日の患者がすでに登録されています",
        "A patient with the same kana name and birth date is already registered",
    ),
    (
        "同一人物の場合は、上の患者を開いてください。別人の場合は、下の確認欄にチェックして登録してください。",
        "If it is the same person, open the patient above. If not, tick the confirmation below and register.",
    ),
    ("氏名", "Name"),
    ("氏(漢字)", "Family name (kanji)"),
    ("名(漢字)", "Given name (kanji)"),
    ("氏(カナ)", "Family name (kana)"),
    ("名(カナ)", "Given name (kana)"),
    (
        "ひらがな・半角カナでも入力できます(カタカナで登録されます)。",
        "Hiragana and half-width kana are accepted (stored in katakana).",
    ),
    (
        "西暦(例 1948-05-03、19480503)または和暦(例 S23.5.3、昭和23年5月3日)",
        "Western year (e.g. 1948-05-03, 19480503) or Japanese era (e.g. S23.5.3, Showa 23-5-3)",
    ),
    ("入力内容", "you typed"),
    ("男性", "Male"),
    ("女性", "Female"),
    ("その他", "Other"),
    ("不明", "Unknown"),
    (
        "自施設の患者ID(カルテ番号)",
        "Our patient ID (chart number)",
    ),
    (
        "この内容で登録する(まれな値であることを確認しました)",
        "Register as entered (I confirm the unusual value)",
    ),
    (
        "上の患者とは別人であることを確認しました",
        "I confirm this is not the patient above",
    ),
    ("送付元", "Sent by"),
    ("送付先(計画管理病院)", "Sent to (planning hospital)"),
    ("送付", "Sent"),
    ("送付済", "Sent"),
    ("未送付", "Not sent"),
    ("添え書き", "Covering note"),
    ("添え書きはありません。", "No covering note."),
    (
        "報告内容(記録から自動作成)",
        "Report (generated from the records)",
    ),
    ("報告する評価値はありません。", "No values to report."),
    ("添え書き(任意)", "Covering note (optional)"),
    ("連携パスへ", "Back to the care plan"),
    (
        "氏名(漢字・カナ)・生年月日・患者ID",
        "Name (kanji or kana), birth date or patient ID",
    ),
    (
        "例: 「田中」「田中 一郎」「やまだ」「ヤマダ タロウ」「ﾔﾏﾀﾞ」(異体字の渡辺・渡邊はカナ「ワタナベ」で両方見つかります)、生年月日「19480503」「1948-05-03」「S23.5.3」、自施設の患者ID「0012345」。空白で区切って組み合わせられます(例「やまだ S23.4.1」)。",
        "Examples: a family name, a full name, hiragana, katakana or half-width kana (variant kanji of a name are found by the kana); birth date 19480503, 1948-05-03 or S23.5.3; this facility\'s patient ID 0012345. Combine terms with spaces.",
    ),
    ("新規患者を登録する", "Register a new patient"),
    ("検索結果", "Search results"),
    ("続きがあります", "more follow"),
    ("検索条件", "Search terms"),
    (
        "該当する患者は見つかりませんでした。自施設で登録した患者、または自施設が参加する連携パスの患者だけが表示されます。",
        "No patient found. Only patients registered by this facility, or on pathways it takes part in, are shown.",
    ),
    ("患者の検索結果", "Patient search results"),
    ("次の検索結果を表示", "Show the next results"),
    ("未読・未回答", "Unread, unanswered"),
    ("未回答", "Unanswered"),
    ("辞退", "Declined"),
    ("取り下げ", "Withdrawn"),
    ("転院完了", "Transferred"),
    ("進行中", "In progress"),
    ("完了", "Completed"),
    ("中止", "Stopped"),
    ("医療者用", "Staff copy"),
    ("患者さん用", "Patient copy"),
    (
        "ブラウザの印刷機能(Ctrl+P)で印刷できます(A4縦)。",
        "Print with the browser (Ctrl+P), A4 portrait.",
    ),
    ("取消", "Voided"),
    ("修正あり(下に修正記録)", "Corrected (correction below)"),
    ("取消記録", "Voiding record"),
    ("修正記録", "Correction"),
    ("確定しました", "Confirmed"),
    ("実施", "Performed"),
    ("確定", "confirmed"),
    ("取消理由", "Reason for voiding"),
    (
        "(この記録は目標・予定・紹介状に数えません)",
        "(this record no longer counts for goals, schedules or referrals)",
    ),
    ("内訳", "Details"),
    ("修正履歴", "Correction history"),
    ("版", "versions"),
    ("理由", "Reason"),
    (
        "この記録を取り消す(入力誤り・別患者)",
        "Void this record (wrong input or wrong patient)",
    ),
    ("取消の理由(必須)", "Reason for voiding (required)"),
    ("取り消す", "Void"),
    ("この記録を修正する", "Correct this record"),
    (
        "連携パスに戻る(入力は保存されません)",
        "Back to the care plan (the input is not saved)",
    ),
    (
        "評価シートの切り替え(入力は保持されます)",
        "Switch assessment sheets (the input is kept)",
    ),
    ("エラー", "errors"),
    ("前回値", "Previous value"),
    (
        "の付いた項目は、前の病期の最後の値を入力済みです。確認して、必要なら変更してください(保存するまで確定しません)。",
        ": items with this mark hold the last value of the previous stage. Check them and change them if needed (nothing is confirmed until saved).",
    ),
    ("実施日時(評価日)", "Performed at (assessment date)"),
    (
        "現在の日時を入力済みです(日本時間)。",
        "Filled in with the current date and time (Japan time).",
    ),
    (
        "(前の病期の値を入力済み・未確定)",
        "(value of the previous stage filled in, not confirmed)",
    ),
    ("前回", "previous"),
    ("未評価", "Not assessed"),
    ("その他の項目", "Other items"),
    ("評価・検査値", "Assessments and tests"),
    (
        "入力した項目だけが記録されます。",
        "Only the items you fill in are recorded.",
    ),
    ("未記入", "Not entered"),
    ("未選択", "Not chosen"),
    ("任意", "optional"),
    ("バリアンスの種類", "Kind of variance"),
    ("選択してください", "Choose one"),
    ("関連する達成目標(任意)", "Related goal (optional)"),
    (
        "バリアンスの説明(任意)",
        "Explanation of the variance (optional)",
    ),
    ("(任意)", "(optional)"),
    ("記録を追加", "Add a record"),
    ("転院・紹介を依頼", "Request a transfer or referral"),
    ("計画書を印刷(患者さん用)", "Print the plan (patient copy)"),
    ("計画書を印刷(医療者用)", "Print the plan (staff copy)"),
    ("連携シート", "Hand-off sheets"),
    ("表示する時点(日付)", "Show as of (date)"),
    ("この日の状況を表示", "Show this day"),
    ("現在の状況に戻る", "Back to today"),
    ("経過の全体像(オーバービュー)", "Overview"),
    ("担当施設", "Facilities in charge"),
    ("開始(予定/実績)", "Start (planned/actual)"),
    ("終了(予定/実績)", "End (planned/actual)"),
    ("実績", "Actual"),
    ("日数(標準・上限)", "Days (standard, limit)"),
    ("転院基準・退院基準", "Transfer and discharge criteria"),
    ("記録", "Records"),
    ("次の受診・検査", "Next visits and tests"),
    ("受診・検査", "Visit or test"),
    ("担当", "In charge"),
    ("期日", "Due date"),
    ("記録なし", "No record"),
    ("次回", "Next"),
    (
        "予定された受診・検査はありません。",
        "No visits or tests scheduled.",
    ),
    ("共有目標(達成目標)", "Shared goals"),
    ("目標", "Target"),
    ("最新の値", "Latest value"),
    ("推移", "Trend"),
    ("未記録", "Not recorded"),
    ("推移表", "Trend table"),
    ("職種", "Profession"),
    ("該当する記録はありません。", "No matching records."),
    ("バリアンスの記録はありません。", "No variances recorded."),
    ("日付", "Date"),
    ("内容", "Content"),
    ("区分", "Class"),
    ("要因", "Cause"),
    ("説明", "Explanation"),
    ("記録施設", "Recording facility"),
    ("分類・取消", "Classify or dismiss"),
    ("分類・取消する", "Classify or dismiss"),
    ("要因(分類するとき)", "Cause (when classifying)"),
    ("選んでください", "Choose one"),
    ("要因を分類する", "Classify the cause"),
    (
        "バリアンスではないとして取り消す",
        "Dismiss as not a variance",
    ),
    ("未分類", "Not classified"),
    (
        "連携(紹介・転院)と返書",
        "Hand-overs (referrals, transfers) and reports back",
    ),
    (
        "紹介・転院の依頼はまだありません。",
        "No referral or transfer requests yet.",
    ),
    ("紹介元 → 紹介先", "From -> To"),
    ("依頼日", "Requested"),
    ("回答日", "Answered"),
    ("送付元 → 送付先", "Sent by -> Sent to"),
    ("送付日", "Sent on"),
    ("ケアチームと同意", "Care team and consent"),
    ("役割", "Role"),
    ("担当する病期", "Stages taken"),
    (
        "以前に閲覧・印刷した記録が修正または取り消されました。内容を確認したら「確認しました」を押してください。",
        "A record you read or printed before was corrected or voided. Check it, then press \"Seen\".",
    ),
    ("記録を見る", "See the record"),
    ("確認しました", "Seen"),
    ("ログイン", "Log in"),
    ("ログインID", "Login ID"),
    ("パスワード", "Password"),
    (
        "パスワードを5回続けて間違えると、15分間ログインできなくなります。パスワードを忘れた場合は、所属施設の管理者に連絡してください。",
        "After 5 wrong passwords in a row, login is locked for 15 minutes. If you forgot your password, ask your facility's administrator.",
    ),
    ("二要素認証", "Two-factor login"),
    (
        "さん、認証アプリに表示されている6桁の確認コードを入力してください。スマートフォンが使えない場合は、登録時に控えたリカバリーコードを入力できます(各コードは1回限り)。",
        ": enter the 6-digit code shown in your authenticator app. Without your phone, enter one of the recovery codes you kept at enrolment (each works once).",
    ),
    ("確認コードまたはリカバリーコード", "Code or recovery code"),
    ("ログインをやめる", "Cancel login"),
    ("パスワードの変更", "Change password"),
    (
        "初期パスワードのままです。使い始める前に、ご自身だけが知るパスワードに変更してください。",
        "This is still the initial password. Before you start, change it to one only you know.",
    ),
    ("現在のパスワード", "Current password"),
    ("新しいパスワード", "New password"),
    ("新しいパスワード(確認)", "New password (again)"),
    ("文字以上", " characters or more"),
    (
        "(二要素認証を有効にすると8文字以上で構いません)",
        " (8 are enough with two-factor login on)",
    ),
    (
        "英小文字・英大文字・数字・記号のうち2種類以上を含める",
        "At least 2 of: lower-case letters, upper-case letters, digits, symbols",
    ),
    (
        "ログインIDや、よく使われるパスワードは使えません",
        "Not the login ID, nor a commonly used password",
    ),
    ("すべての職種", "All professions"),
    ("すべての病期", "All stages"),
    ("二要素認証の登録", "Set up two-factor login"),
    (
        "所属施設では二要素認証が必須です。登録が終わるまで他の画面は使えません。",
        "Your facility requires two-factor login. Other screens are locked until you finish.",
    ),
    (
        "スマートフォンの認証アプリ(Google Authenticator、Microsoft Authenticator など)で、次のQRコードを読み取ってください。",
        "Scan this QR code with the authenticator app on your phone (Google Authenticator, Microsoft Authenticator and so on).",
    ),
    (
        "読み取れない場合は、アプリに次のキーを手入力してください(時間ベース、6桁、30秒)。",
        "If it cannot be scanned, type this key into the app (time-based, 6 digits, 30 seconds).",
    ),
    (
        "パスワードと、アプリに表示された6桁の確認コードを入力して「登録」を押してください。",
        "Enter your password and the 6-digit code the app shows, then press \"Set up\".",
    ),
    ("登録用URI", "Setup URI"),
    (
        "パスワード(本人確認のため、もう一度入力してください)",
        "Password (again, to confirm it is you)",
    ),
    ("確認コード(6桁)", "Code (6 digits)"),
    ("登録", "Set up"),
    (
        "スマートフォンの機種変更などで登録し直す場合は、所属施設の管理者に連絡してください。",
        "To set it up again (a new phone, for example), ask your facility's administrator.",
    ),
    ("トップページへ戻る", "Back to the top page"),
    ("二要素認証を登録しました", "Two-factor login is set up"),
    ("控えたので次へ進む", "I have kept them: continue"),
    (
        "二要素認証の登録用QRコード",
        "QR code to set up two-factor login",
    ),
    ("終了未記録", "End not recorded"),
    ("終了", "Ended"),
    ("開始前", "Not started yet"),
    ("未開始", "Not started"),
    ("達成(病期終了)", "Met (stage ended)"),
    ("評価待ち", "Awaiting assessment"),
    // FHIR R4 interface (/fhir/r4)
    (
        "この検索パラメータには対応していません",
        "This search parameter is not supported",
    ),
    (
        "検索パラメータの値が正しくありません",
        "The search parameter's value is invalid",
    ),
    // The referral letter (診療情報提供書) of a hand-over and the FHIR Bulk Data export
    ("診療情報提供書を印刷", "Print the referral letter"),
    ("紹介・転院の依頼に戻る", "Back to the hand-over"),
    // Lab-result import (FHIR Bundle and SS-MIX2): why an observation was not imported.
    (
        "取り込みデータの形式が正しくありません",
        "The imported data is malformed",
    ),
    ("必須の項目がありません", "A required element is missing"),
    (
        "この検査コードに対応するパスの評価項目がありません",
        "No item of the pathway records this test code",
    ),
    (
        "この検査コードに対応する評価項目が複数あります",
        "Several items record this test code",
    ),
    (
        "単位が評価項目の単位と異なります",
        "The unit is not the item's unit",
    ),
    (
        "値が評価項目の有効範囲外です",
        "The value is outside the item's valid range",
    ),
    ("対象の患者が見つかりません", "No such patient"),
    (
        "この患者の有効な連携パスがありません",
        "The patient has no active care plan",
    ),
    (
        "連携パスの現在の状態では記録できません",
        "The care plan's current state does not allow recording it",
    ),
    (
        "同じ識別子の検査結果が既に取り込まれています",
        "A result with the same identifier was imported before",
    ),
    // Administration of organisations and users (issue 18 points 7 and 8).
    ("2段階認証", "Two-factor login"),
    ("2段階認証の設定を保存", "Save the two-factor setting"),
    (
        "2段階認証の設定を変更しました。",
        "The two-factor setting is saved.",
    ),
    (
        "2段階認証を解除しました。次回ログイン時に登録し直します。",
        "Two-factor login is reset; it is set up again at the next login.",
    ),
    ("2段階認証を解除する", "Reset two-factor login"),
    (
        "90日以上ログインしていない利用者",
        "Users who have not logged in for 90 days",
    ),
    (
        "90日以上ログインしていない利用者(利用停止中を除く)だけを表示しています。",
        "Showing only the users who have not logged in for 90 days (disabled users left out).",
    ),
    ("FAX番号", "FAX number"),
    (
        "このコードはすでに使われています。",
        "This code is already in use.",
    ),
    (
        "この仮パスワードはこの画面で一度だけ表示されます。本人に直接渡してください。次回ログイン時に新しいパスワードへの変更が必要です。",
        "This temporary password is shown on this screen only once. Hand it to the user in person; they must change it at their next login.",
    ),
    (
        "この利用者の利用を停止することを確認しました(ログイン中の画面とAPIトークンは直ちに無効になります)",
        "I confirm disabling this user (their open sessions and API tokens stop working at once)",
    ),
    (
        "この施設の利用を停止することを確認しました",
        "I confirm deactivating this facility",
    ),
    (
        "この施設の利用者全員に2段階認証を必須にする",
        "Require two-factor login of every user of this facility",
    ),
    ("すべての利用者を表示", "Show every user"),
    ("アカウントの操作", "Account actions"),
    (
        "パスワードを再設定しました。ログイン中の画面は終了しました。",
        "The password is reset; the user's open sessions have ended.",
    ),
    (
        "パスワードを再設定することを確認しました(今のパスワードは使えなくなります)",
        "I confirm resetting the password (the current one stops working)",
    ),
    (
        "パスワード再設定の確認欄にチェックしてください。",
        "Tick the box to confirm the password reset.",
    ),
    ("ロックを解除しました。", "The lock is lifted."),
    ("ロックを解除する", "Lift the lock"),
    ("ロック中", "Locked"),
    ("二次保健医療圏", "Secondary medical area"),
    ("介護支援専門員", "Care manager"),
    ("仮パスワード", "Temporary password"),
    ("仮パスワードを発行する", "Issue a temporary password"),
    ("住所", "Address"),
    ("保存", "Save"),
    ("保存しました。", "Saved."),
    ("入力", "Input"),
    ("利用の停止・再開", "Deactivate or reactivate"),
    (
        "利用を停止しました。ログイン中の画面とAPIトークンは直ちに無効になりました。",
        "Disabled: their open sessions and API tokens stopped working at once.",
    ),
    (
        "利用を停止しました。利用者のログインとAPIトークンは無効になりました。",
        "Deactivated: its users can no longer log in or use API tokens.",
    ),
    ("利用を停止する", "Deactivate"),
    (
        "利用を停止すると、この施設の利用者はログインできなくなり、ログイン中の画面とAPIトークンも直ちに無効になります。記録は削除されません。",
        "Once deactivated, this facility's users can no longer log in, and their open sessions and API tokens stop working at once. Nothing of the record is deleted.",
    ),
    ("利用を再開しました。", "Reactivated."),
    ("利用を再開する", "Reactivate"),
    ("利用中", "Active"),
    ("利用停止", "Deactivated"),
    (
        "利用停止の確認欄にチェックしてください。",
        "Tick the box to confirm the deactivation.",
    ),
    ("利用可", "Enabled"),
    ("利用者の管理へ", "Back to the user"),
    ("利用者の追加", "Add a user"),
    ("利用者を追加", "Add the user"),
    ("利用者を追加しました。", "The user is added."),
    ("利用者一覧へ", "Back to the users"),
    ("医師", "Physician"),
    ("医療ソーシャルワーカー", "Medical social worker"),
    (
        "半角の英小文字・数字・「-」「_」(例 acute-2)。あとから変更できません。",
        "Lowercase letters, digits, '-' and '_' (e.g. acute-2). It cannot be changed later.",
    ),
    (
        "半角の英小文字・数字・「-」「_」(例 tanaka-h)。",
        "Lowercase letters, digits, '-' and '_' (e.g. tanaka-h).",
    ),
    ("名称", "Name"),
    ("名称・氏名", "Name"),
    (
        "回復期リハビリテーション病院",
        "Convalescent rehabilitation hospital",
    ),
    ("地域管理者", "Regional administrator"),
    ("地域連携室職員", "Liaison office staff"),
    ("居宅介護支援事業所", "Care management office"),
    ("急性期病院", "Acute hospital"),
    ("施設の管理", "Facilities"),
    ("施設の管理へ", "Back to the facilities"),
    ("施設の追加", "Add a facility"),
    ("施設を追加", "Add the facility"),
    ("施設コード", "Facility code"),
    ("施設情報", "Facility details"),
    (
        "施設情報・2段階認証・利用停止",
        "details, two-factor login, deactivation",
    ),
    ("施設管理者", "Facility administrator"),
    ("療法士(PT/OT/ST)", "Therapist (PT/OT/ST)"),
    ("登録しました。", "Added."),
    ("看護師", "Nurse"),
    ("種別", "Kind"),
    (
        "種別と二次保健医療圏は地域管理者が変更します。",
        "The kind and the secondary medical area are changed by the regional administrator.",
    ),
    ("管理・監査へ", "Back to administration"),
    ("管理権限", "Administration roles"),
    ("薬剤師", "Pharmacist"),
    ("薬局", "Pharmacy"),
    ("行政", "Municipality"),
    ("訪問看護ステーション", "Home-visit nursing station"),
    ("診療所(かかりつけ医)", "Clinic (family physician)"),
    (
        "追加すると仮パスワードが一度だけ表示されます。本人に渡してください。初回ログイン時に変更が必要です。",
        "Once added, a temporary password is shown once. Hand it to the user; they must change it at their first login.",
    ),
    ("電話番号", "Telephone"),
    ("電話番号(地域連携室)", "Telephone (liaison office)"),
    // Correcting a patient's demographics (issue 18 point 9).
    ("患者の画面へ", "Back to the patient"),
    ("患者情報の訂正", "Correct the patient's details"),
    (
        "患者情報の訂正と訂正履歴",
        "Correct the patient's details, and their history",
    ),
    (
        "氏名・カナ・生年月日・性別の誤りを、理由を添えて訂正します。訂正前の内容は履歴に残ります。",
        "Correct a wrong name, kana, birth date or sex, with the reason. What it was before stays in the history.",
    ),
    (
        "西暦で入力してください(例 1948-05-03)。",
        "Western calendar (e.g. 1948-05-03).",
    ),
    ("訂正する", "Correct"),
    ("訂正の理由", "Reason for the correction"),
    ("訂正はまだありません。", "No corrections yet."),
    ("訂正前", "Before"),
    ("訂正履歴", "Corrections"),
    ("訂正後", "After"),
    // A patient's records: own patient numbers and merging (issue 18 point 9).
    (
        "自施設の患者番号の追加",
        "Add your organisation's patient number",
    ),
    (
        "自施設の患者番号(カルテ番号)だけを追加できます。",
        "Only your own organisation's patient number (chart number) can be added.",
    ),
    ("患者番号(カルテ番号)", "Patient number (chart number)"),
    ("患者番号を追加する", "Add the patient number"),
    (
        "自施設の患者番号を追加しました。",
        "Your organisation's patient number was added.",
    ),
    (
        "この患者番号は自施設ですでに別の患者さんに使われています。",
        "Your organisation already uses this patient number for another patient.",
    ), // Merging two records of one person (名寄せ, issue 18 point 9).
    ("2つの記録の比較", "The two records compared"),
    (
        "2つの記録を並べて表示しています。異なる項目には「相違」と表示します。",
        "The two records side by side. Fields that differ are marked \"differs\".",
    ),
    (
        "2つの記録を名寄せしました。",
        "The two records were merged.",
    ),
    (
        "この2つの記録は名寄せできません",
        "These two records cannot be merged",
    ),
    ("この記録の名寄せ", "Merges of this record"),
    ("この記録を残す", "Keep this record"),
    ("カナ氏名", "Name in kana"),
    ("一致", "Same"),
    (
        "取り消すと、2つの記録は名寄せ前と同じように別々に表示されます。",
        "Once reversed, the two records show separately again, as before the merge.",
    ),
    ("取消の理由", "Reason for the reversal"),
    ("取消済み", "Reversed"),
    (
        "同じ人の2つの記録を比較して統合・取消",
        "compare two records of one person, merge them or reverse a merge",
    ),
    (
        "同じ人の別の記録をこの記録に統合します",
        "merge another record of the same person into this one",
    ),
    (
        "同じ人の記録が2つあるとき、残す記録にもう一方を統合します。記録は移動せず、取り消すことができます。",
        "When one person has two records, the other record is merged into the one kept. Nothing moves, and the merge can be reversed.",
    ),
    ("名寄せ", "Merge records"),
    ("名寄せ — 2つの記録の比較", "Merge: compare the two records"),
    (
        "名寄せ — 統合する記録の選択",
        "Merge: choose the record to merge",
    ),
    ("名寄せする", "Merge"),
    ("名寄せの取消", "Reverse the merge"),
    ("名寄せの理由", "Reason for the merge"),
    ("名寄せの確認", "Confirm the merge"),
    ("名寄せの記録", "Merge record"),
    ("名寄せを取り消しました。", "The merge was reversed."),
    ("名寄せを取り消す", "Reverse the merge"),
    ("名寄せ済み", "Merged"),
    ("患者記録の名寄せ", "Merge patient records"),
    ("有効", "In effect"),
    ("残す記録", "Record kept"),
    ("残す記録を検索", "Find the record to keep"),
    ("比較", "Comparison"),
    ("比較する", "Compare"),
    (
        "生年月日または性別が異なります。同一人物であることを確認してください。",
        "The birth date or sex differs. Check that the records are one person.",
    ),
    ("相違", "Differs"),
    ("統合された記録", "Records merged in"),
    ("統合する記録", "Record merged"),
    ("統合する記録の選択へ", "Back to choosing the record"),
    ("統合する記録を検索", "Find the record to merge"),
    ("違いを確認した", "Differences checked"),
    ("名寄せされた記録", "Records merged into this one"),
    // Plan actions, declarations (手挙げ) and e-mail notifications on the web (issue 18 points 10, 11).
    ("この内容で届け出る", "Declare this"),
    (
        "この患者さんに限り、達成目標の目標値を変えます。理由は記録に残ります。",
        "Change a goal's target for this patient only. The reason stays in the record.",
    ),
    ("この施設の届出を開く", "Open this facility's declarations"),
    ("この施設の設定を開く", "Open this facility's settings"),
    ("この目標を変える", "Change this target"),
    ("この連携パスを中止します", "I withdraw this pathway plan"),
    ("この連携パスを完了します", "I complete this pathway plan"),
    (
        "ケアチーム外の連携パスを、緊急時に限り閲覧します。閲覧のみで、記録はできません。理由と閲覧の記録は監査され、地域管理者が事後に確認します。",
        "Read a plan outside your care team, in an emergency only. Reading only, no recording. The reason and the reading are audited and reviewed afterwards by the regional administrator.",
    ),
    ("メール通知の設定", "E-mail notifications"),
    (
        "上の変更点を確認し、この版へ移行します",
        "I have checked the changes above and move the plan to this version",
    ),
    ("上限(未満)", "Upper bound (below)"),
    ("下限(以上)", "Lower bound (at least)"),
    ("中止する", "Withdraw"),
    (
        "中止すると、この連携パスには記録を追加できなくなります。中止の理由は記録に残ります。",
        "Once withdrawn, nothing more can be recorded on this plan. The reason stays in the record.",
    ),
    ("中止の理由", "Reason for the withdrawal"),
    (
        "中止の理由を入力してください。",
        "Enter the reason for the withdrawal.",
    ),
    (
        "例: 救急搬送され、服薬と既往歴の確認が必要なため(4文字以上)。",
        "E.g. brought in by ambulance; medication and history must be checked (at least 4 characters).",
    ),
    ("保存する", "Save"),
    ("修正のお知らせが届いたとき", "An amendment notice arrives"),
    ("個別に設定する理由", "Reason for the individual target"),
    (
        "個別に設定する理由を入力してください。",
        "Enter the reason for the individual target.",
    ),
    ("値と比較", "Compared with a value"),
    ("備考(受入条件など)", "Note (conditions of acceptance)"),
    ("削除", "Removed"),
    ("受け入れる病期", "Stages taken"),
    (
        "受け入れる病期と届出の履歴",
        "stages taken and the history of declarations",
    ),
    ("受け入れる連携パスの届出(手挙げ)", "Pathway declarations"),
    ("受診・検査の予定", "Visits and tests"),
    ("変更", "Changed"),
    ("変更なし", "no change"),
    ("変更点を確認する", "Show the changes"),
    ("完了する", "Complete"),
    (
        "完了すると、この連携パスには記録を追加できなくなります。",
        "Once completed, nothing more can be recorded on this plan.",
    ),
    ("完了のメモ(任意)", "Note on the completion (optional)"),
    (
        "届いた知らせをメールで受け取ります。メールには患者さんの情報を載せず、Renkeiへのリンクだけを載せます。",
        "Receive an e-mail when something arrives. The mail carries no patient data, only a link to Renkei.",
    ),
    ("届出の履歴", "Declaration history"),
    ("届出はまだありません。", "No declarations yet."),
    (
        "届出を保存しました。施設一覧に反映されました。",
        "Declared. The directory shows it.",
    ),
    ("届出日時", "Declared at"),
    ("数値で入力してください。", "Enter a number."),
    (
        "新しい版で記録が必要な項目",
        "Items the new version needs recorded",
    ),
    (
        "新しい版にない記録済みの項目",
        "Recorded items the new version no longer has",
    ),
    ("新しい版への移行", "Move to a newer version"),
    ("新しい版へ移行", "Move to a newer version"),
    ("施設を選ぶ", "Choose a facility"),
    ("日数", "Days"),
    ("時間", "hours"),
    ("時間(以内)", "Hours (at most)"),
    ("月数", "Months"),
    ("版の比較(詳細)", "Compare the versions (details)"),
    ("現在の届出", "Current declaration"),
    ("現在の版", "Current version"),
    ("目標の個別設定", "Individual targets"),
    ("目標の形", "Kind of target"),
    (
        "目標を個別に設定しました。",
        "The individual target was set.",
    ),
    ("目標を設定する", "Set the target"),
    ("目標値", "Target value"),
    (
        "確認欄にチェックしてください。",
        "Tick the confirmation box.",
    ),
    ("移行する", "Move the plan"),
    (
        "移行できる新しい版はありません。",
        "There is no newer version to move to.",
    ),
    ("移行による変更点", "What the move changes"),
    ("移行の理由", "Reason for the move"),
    ("移行先の版", "Version to move to"),
    (
        "移行先の版を選んでください。",
        "Choose the version to move to.",
    ),
    (
        "空欄にするとメールは送りません。",
        "Leave it empty to send no e-mail.",
    ),
    (
        "範囲(下限以上・上限未満)",
        "Range (at least the lower, below the upper bound)",
    ),
    ("緊急に閲覧する理由", "Reason for emergency access"),
    (
        "緊急アクセス(ブレークグラス)",
        "Emergency access (break-glass)",
    ),
    (
        "緊急アクセス(ブレークグラス)で閲覧中",
        "Reading through emergency access (break-glass)",
    ),
    ("緊急アクセスして閲覧する", "Open with emergency access"),
    (
        "緊急時の閲覧であり、理由と閲覧が記録されることを確認しました",
        "This is an emergency, and I understand the reason and the reading are recorded",
    ),
    (
        "緊急アクセスを記録しました。閲覧のみできます。理由と閲覧は監査され、地域管理者が確認します。",
        "Emergency access recorded. Reading only; the reason and the reading are audited and reviewed by the regional administrator.",
    ),
    ("置き換えた日時", "Replaced at"),
    (
        "自施設が受け入れる病期を連携パスごとに届け出ます。届出は施設一覧に載り、転院・紹介先を探すときに使われます。前の届出は履歴に残ります。",
        "Declare, per pathway, the stages your facility takes. The directory lists the declaration and it is used to find where to refer a patient. Earlier declarations stay in the history.",
    ),
    ("記録項目", "Items"),
    ("転院・紹介の依頼が届いたとき", "A hand-over arrives"),
    (
        "返書の期限が近いとき・過ぎたとき",
        "A report back is due or overdue",
    ),
    ("追加", "Added"),
    ("通知する出来事", "Events to be told of"),
    (
        "通知の設定を保存しました。",
        "The notification settings were saved.",
    ),
    ("通知先のメールアドレス", "E-mail address"),
    (
        "通知先のメールアドレスと通知する出来事",
        "the e-mail address and the events to be told of",
    ),
    ("連携パスの中止", "Withdraw the pathway plan"),
    ("連携パスの完了", "Complete the pathway plan"),
    ("連携パスの画面へ", "Back to the pathway plan"),
    ("連携パスを中止", "Withdraw the plan"),
    (
        "連携パスを中止しました。",
        "The pathway plan was withdrawn.",
    ),
    ("連携パスを完了", "Complete the plan"),
    (
        "連携パスを完了しました。",
        "The pathway plan was completed.",
    ),
    (
        "連携パスを新しい版へ移行しました。",
        "The pathway plan moved to the newer version.",
    ),
    ("選択中", "Chosen"),
    ("閲覧できる時間", "Reading allowed for"),
    (
        "閲覧のみできます。閲覧は監査され、地域管理者が確認します。",
        "Reading only. The reading is audited and reviewed by the regional administrator.",
    ),
    ("項目の変更", "fields changed"),
    // A plan's care team: ending an organisation's access, withdrawing consent (issue 18 point 10).
    ("計画の画面へ", "Back to the plan"),
    ("ケアチームの施設", "Organisations on the care team"),
    ("追加日", "Added"),
    ("終了・除外", "End or remove"),
    ("施設を追加する", "Add an organisation"),
    (
        "施設名または施設コードで選びます。",
        "Choose by the organisation's name or code.",
    ),
    ("協力施設", "Contributing facility"),
    ("閲覧のみ", "View only"),
    ("ケアチームに追加する", "Add to the care team"),
    ("同意の記録はありません。", "No consent recorded."),
    ("取得日", "Obtained"),
    ("共有範囲", "Shared with"),
    ("撤回済", "Withdrawn"),
    ("撤回の理由", "Reason for the withdrawal"),
    ("同意を撤回する", "Withdraw the consent"),
    ("施設のアクセスの終了", "End an organisation's access"),
    (
        "最終日を入れるとその日の終わりまで、空欄なら今すぐアクセスを終了します(ケアチームから除外)。記録と履歴は残ります。",
        "With a last day, access ends at the end of that day; left empty, it ends now (removed from the care team). Its records and the history stay.",
    ),
    ("最終日", "Last day"),
    (
        "西暦で入力してください(例 2026-04-30)。空欄なら今すぐ。",
        "Western calendar (e.g. 2026-04-30). Empty: now.",
    ),
    ("確認へ進む", "Continue to confirm"),
    ("戻って直す", "Go back and change"),
    (
        "施設のアクセスの終了の確認",
        "Confirm the end of the organisation's access",
    ),
    ("同意の撤回の確認", "Confirm the withdrawal of consent"),
    ("アクセス", "Access"),
    (
        "終了後、この施設は計画を閲覧も記録もできなくなります。記録と履歴は残ります。",
        "Once ended, this organisation can neither read nor write the plan. Its records and the history stay.",
    ),
    (
        "撤回すると、計画管理病院のほかはこの計画を閲覧できなくなります。",
        "Once withdrawn, no organisation but the planning hospital can read this plan.",
    ),
    ("アクセスを終了する", "End the access"),
    (
        "最終日は西暦で入力してください(例 2026-04-30)。",
        "Write the last day in the Western calendar (e.g. 2026-04-30).",
    ),
    ("理由を入力してください。", "Give a reason."),
    ("今すぐ(除外)", "Now (removed)"),
    (
        "撤回の理由を入力してください。",
        "Give the reason for the withdrawal.",
    ),
    (
        "ケアチームに施設を追加しました。",
        "The organisation was added to the care team.",
    ),
    (
        "施設のアクセスを終了しました。",
        "The organisation's access was ended.",
    ),
    ("同意を撤回しました。", "The consent was withdrawn."),
    ("ケアチームの管理", "Manage the care team"),
    // The regional council's reports (協議会).
    ("不明な施設", "Unknown organisation"),
    ("施設不明", "Organisation not known"),
    ("地域全体", "Whole region"),
    ("患者の流れ", "Patient flow"),
    ("目標の達成", "Goal attainment"),
    ("アウトカム指標", "Outcome indicators"),
    ("記録の完全性", "Data completeness"),
    ("版の比較", "Version comparison"),
    ("計画の状況", "Plans by status"),
    (
        "計画管理病院ごとの、期間内に開始(period=endでは終了)した計画の数と現在の状態。転院は他施設への連携(転院・紹介)が完了した計画。",
        "Per planning hospital: plans started in the period (ended, with period=end) and their status now. Transferred: a hand-over to another organisation was completed.",
    ),
    ("開始", "Started"),
    ("継続中", "Active"),
    ("転院あり", "Transferred"),
    ("月別の開始数", "Plans started by month"),
    (
        "計画の開始日(東京時間)の月ごとの件数。",
        "Plans by the month of their start day (Tokyo time).",
    ),
    ("月", "Month"),
    ("病期の在院・滞在日数", "Stage length"),
    (
        "終了した病期の日数(開始日を1日目とする東京時間の暦日数)。中央値・四分位はR type 7の線形補間。標準日数・上限日数はテンプレートの値(個別設定は含まない)。",
        "Days of ended stages (calendar days in Tokyo time, the first day counted as day 1). Median and quartiles by linear interpolation (R type 7). Expected and maximum days are the template's (individual limits not shown).",
    ),
    ("件数", "Count"),
    ("最小", "Min"),
    ("日", "days"),
    ("第1四分位", "Q1"),
    ("中央値", "Median"),
    ("第3四分位", "Q3"),
    ("最大", "Max"),
    ("標準日数", "Expected days"),
    ("上限日数", "Maximum days"),
    ("標準超過", "Over expected"),
    ("上限超過", "Over maximum"),
    ("病期の日数の分布", "Distribution of stage lengths"),
    (
        "終了した病期の日数を区間ごとに数えたもの(地域全体)。",
        "Ended stages counted by length band (whole region).",
    ),
    ("日数の区間", "Days"),
    ("病期間の待機日数", "Waiting days between stages"),
    (
        "前の病期の終了日から次の病期の開始日までの暦日数(東京時間、同日の転院は0日)。施設は次の病期を担った施設。",
        "Calendar days from the end of a stage to the start of the next (Tokyo time; a same-day transfer is 0 days). The organisation is the one that ran the next stage.",
    ),
    ("移行", "Transition"),
    ("受入施設", "Receiving organisation"),
    ("連携依頼への回答", "Answers to hand-over requests"),
    (
        "受入施設ごとの連携(転院・紹介)依頼の件数、受入・辞退の件数と、依頼から回答(受入または辞退)までの時間の中央値。件数は計画(患者)の数。",
        "Per receiving organisation: hand-over requests, acceptances and declines, and the median time from request to answer (accept or decline). Counts are plans (patients).",
    ),
    ("依頼", "Requested"),
    ("受入", "Accepted"),
    ("受入率", "Acceptance rate"),
    ("回答までの時間(中央値)", "Time to answer (median)"),
    ("辞退の理由", "Reasons for declining"),
    (
        "辞退された連携依頼の理由(地域全体)。5人未満の理由は「その他(5人未満の理由)」にまとめる。多い順、累積割合つき。",
        "Reasons given for declined hand-overs (whole region). Reasons of fewer than 5 patients are grouped as 'Other (reasons of fewer than 5)'. Most frequent first, with the cumulative share.",
    ),
    ("累積割合", "Cumulative share"),
    ("その他(5人未満の理由)", "Other (reasons of fewer than 5)"),
    (
        "病期を担った施設ごとの、終了した病期の返書の件数、送付数・送付率、期限後の送付と未送付の期限超過、遅れた日数の中央値(送付日−期限、暦日)。",
        "Per organisation that ran the stage: reports back owed for ended stages, sent and the rate sent, sent after the due date, unsent and overdue, and the median days late (sent day minus due day).",
    ),
    ("返書の対象", "Reports owed"),
    ("送付済み", "Sent"),
    ("送付率", "Rate sent"),
    ("期限後の送付", "Sent late"),
    ("未送付・期限超過", "Unsent, overdue"),
    ("遅れ(中央値)", "Days late (median)"),
    ("協議会委員", "Council member"),
    // The regional council's pages (issue 16).
    (
        "5人未満のため伏せた値",
        "Values hidden because fewer than 5 patients",
    ),
    (
        "この会議では報告を保存していません。",
        "No reports were kept with this meeting.",
    ),
    ("この条件で表示", "Show with these filters"),
    (
        "この条件の報告で会議を記録する",
        "Record a meeting with these reports",
    ),
    ("この版に結び付ける", "Link to this version"),
    ("この表をCSVで出力", "Download this table as CSV"),
    ("パス終了日", "Pathway end date"),
    ("パス開始日", "Pathway start date"),
    ("二次医療圏", "Secondary medical area"),
    (
        "会議の時点の報告は、地域の管理者と協議会委員だけが見られます。",
        "The reports as of the meeting are shown to the regional administrator and council members only.",
    ),
    ("会議を記録する", "Record the meeting"),
    ("会議名", "Meeting title"),
    ("出席施設", "Attending organisations"),
    ("協議会", "Council"),
    ("協議会の会議", "Council meetings"),
    ("協議会の会議を記録", "Record a council meeting"),
    (
        "図の数値は下の表のとおりです。",
        "The chart's numbers are in the table below.",
    ),
    (
        "地域の連携パスの流れ・目標達成・バリアンス・アウトカム・データの充足度を施設をまたいで集計します。統計利用の同意がある計画だけを数え、5人未満の集計値は「<5」と表示します。",
        "Flow, goal attainment, variances, outcomes and data completeness of the region's pathways across organisations. Only plans with consent to statistics are counted; figures from fewer than 5 patients show as <5.",
    ),
    ("地域連携パス協議会", "Regional pathway council"),
    ("報告", "Reports"),
    ("報告の絞り込み", "Report filters"),
    ("定義", "Definition"),
    ("実施した版", "Carried out by version"),
    (
        "実施した版に結び付ける",
        "Link to the version that carried it out",
    ),
    ("期間で選ぶ日", "Period applies to"),
    ("期間の始め", "Period from"),
    ("期間の終わり", "Period to"),
    ("未実施", "Not carried out yet"),
    ("検討した報告", "Reports reviewed"),
    (
        "検討した報告(会議の時点)",
        "Reports reviewed (as of the meeting)",
    ),
    ("検討した報告の条件", "Filters of the reports reviewed"),
    ("決定事項", "Decisions"),
    ("決定事項はまだありません。", "No decisions yet."),
    ("決定事項を記録", "Record a decision"),
    ("決定事項を記録する", "Record the decision"),
    ("版に反映済み", "Carried out"),
    (
        "統計利用の同意がなく除外した計画",
        "Plans excluded for lack of statistics consent",
    ),
    ("表示中の条件", "Current filters"),
    (
        "記録された会議はまだありません。",
        "No meetings recorded yet.",
    ),
    ("該当する計画はありません。", "No plans match."),
    (
        "選んだ報告は記録した時点の内容で保存され、あとからデータが増えても変わりません。",
        "The chosen reports are kept as they read when the meeting is recorded; later data does not change them.",
    ),
    ("開催日", "Held on"),
    ("集計した計画", "Plans counted"),
    (
        "報告のすべての表をCSVで出力",
        "Download every table of the report as CSV",
    ),
    (
        "この報告はまだ集計できません。",
        "This report has no figures yet.",
    ),
    (
        "会議を記録しました。検討した報告はこの時点の内容で保存されています。",
        "The meeting was recorded. The reports reviewed are kept as they read now.",
    ),
    ("決定事項を記録しました。", "The decision was recorded."),
    ("集計結果", "Figures"),
    (
        "決定事項を実施した版に結び付けました。",
        "The decision was linked to the version that carried it out.",
    ),
    ("目標の達成率", "Goal attainment rate"),
    (
        "目標ごと、その目標の病期を担った施設ごとの判定。達成率=達成÷(達成+未達成)。期限を過ぎて未判定の目標は未達成に数える。判定待ちと対象外は分母に含めない。目標の値は患者ごとの個別目標を含む。",
        "Per goal and per organisation that ran the goal's stage. Attainment = met / (met + not met); a goal past its due date without a result counts as not met. Pending and not applicable goals are left out of the denominator. Targets include individual targets.",
    ),
    ("達成", "Met"),
    ("未達成", "Not met"),
    ("判定待ち", "Pending"),
    ("対象外", "Not applicable"),
    ("達成率", "Attainment rate"),
    ("入棟時の運動FIMが20以下", "Admission motor FIM 20 or less"),
    ("入棟時の運動FIMが76以上", "Admission motor FIM 76 or more"),
    (
        "入棟時の認知FIMが24以下",
        "Admission cognitive FIM 24 or less",
    ),
    ("80歳以上", "Aged 80 or over"),
    ("死亡退院", "Died in the ward"),
    ("FIMまたは日数の記録がない", "FIM or days not recorded"),
    ("FIM利得とFIM効率", "FIM gain and FIM efficiency"),
    (
        "回復期の入棟時(病期の最初の記録)と退棟時(最後の記録)のFIM。FIM利得=退棟時−入棟時(運動項目と合計の両方を示す)。FIM効率=運動FIM利得÷回復期の在棟日数(入棟日を1日目)。終了した回復期で入棟時・退棟時の運動FIMがそろった患者(domain.md §8)。",
        "FIM at recovery-ward admission (the stage's first record) and discharge (its last). FIM gain = discharge minus admission (motor and total both shown). FIM efficiency = motor FIM gain / days in the recovery ward (admission day = day 1). Patients whose recovery stage ended with motor FIM at admission and discharge (domain.md section 8).",
    ),
    ("回復期の施設", "Recovery ward"),
    ("患者数", "Patients"),
    ("人", "patients"),
    ("運動FIM利得(平均)", "Motor FIM gain (mean)"),
    ("点", "points"),
    ("運動FIM利得(中央値)", "Motor FIM gain (median)"),
    ("FIM合計利得(平均)", "Total FIM gain (mean)"),
    ("FIM合計利得(中央値)", "Total FIM gain (median)"),
    ("運動FIM効率(中央値)", "Motor FIM efficiency (median)"),
    ("点/日", "points/day"),
    ("実績指数", "Performance index (jisseki shisu)"),
    (
        "実績指数=Σ(退棟時運動FIM−入棟時運動FIM)÷Σ(在棟日数÷その患者の算定上限日数)。終了した回復期の患者が対象。除外:入棟時運動FIM 20以下または76以上、認知FIM 24以下、80歳以上(中医協 入-2、2025-08-21、domain.md §3)と死亡退院、記録のない患者。除外は病棟の選択で、ここでは一律に除外する。通知の現行の条件との照合は未了(domain.md §3 UNCERTAIN)。上限日数は回復期の上限(患者ごとの個別設定を含む)。",
        "Performance index = sum of (discharge motor FIM - admission motor FIM) / sum of (days in the ward / the patient's day limit), over patients whose recovery stage ended. Excluded: admission motor FIM 20 or less or 76 or more, cognitive FIM 24 or less, aged 80 or over (Chuikyo document Nyu-2, 2025-08-21, domain.md section 3), deaths in the ward, and patients without the records. A ward may choose these exclusions; here all are applied. Not yet checked against the notice in force (domain.md section 3 marks it UNCERTAIN). The day limit is the recovery stage's (individual limits included).",
    ),
    ("退棟患者", "Discharged"),
    ("除外", "Excluded"),
    ("算入", "Counted"),
    ("患者構成で調整したFIM利得", "Case-mix-adjusted FIM gain"),
    (
        "運動FIM利得を入棟時運動FIM・年齢(発症時)・発症から回復期入棟までの日数で説明する最小二乗法の線形回帰(切片つき)を、絞り込んだ地域の患者で当てはめ、施設ごとに実際の平均、モデルの期待する平均、その差(実際−期待)を示す。差が正なら患者構成から見込まれるより利得が大きい。10人未満ではモデルを当てはめない。",
        "An ordinary least squares regression (with intercept) of motor FIM gain on admission motor FIM, age at onset and days from onset to recovery admission, fitted on the filtered region's patients; per organisation the observed mean, the mean the model expects and their difference (observed - expected). A positive difference is a larger gain than the case mix predicts. Not fitted on fewer than 10 patients.",
    ),
    ("実際の平均利得", "Observed mean gain"),
    ("期待される平均利得", "Expected mean gain"),
    ("実際−期待", "Observed - expected"),
    ("モデルを当てはめていない", "Model not fitted"),
    ("必要な人数", "needed"),
    ("期待される運動FIM利得", "Expected motor FIM gain"),
    ("入棟時運動FIM", "admission motor FIM"),
    ("年齢", "age"),
    ("発症から入棟までの日数", "days from onset to admission"),
    ("在宅復帰率", "Home discharge rate"),
    (
        "退院先が記録された患者のうち、自宅に退院した割合と、自宅または居住系施設(有料老人ホーム・サ高住・グループホーム)に退院した割合。分母はすべての退院(死亡を含む、domain.md §8)。施設は退院させた施設(回復期を経た患者は回復期の施設)。",
        "Of patients with a recorded discharge destination: the share discharged home, and the share discharged home or to residential care (private care homes, serviced housing, group homes). The denominator is every discharge, deaths included (domain.md section 8). The organisation is the one that discharged (the recovery ward for patients who went through one).",
    ),
    ("退院させた施設", "Discharging organisation"),
    ("退院", "Discharged"),
    ("自宅", "Home"),
    ("自宅退院率", "Home rate"),
    ("自宅・居住系施設", "Home or residential care"),
    ("死亡", "Died"),
    ("Barthel指数の低下", "Barthel index loss"),
    (
        "受傷前のBarthel指数−退院時(回復期の最後の記録)のBarthel指数。受傷前の値が記録された患者(大腿骨近位部骨折、domain.md §8)。",
        "Pre-injury Barthel index minus the Barthel index at discharge (the last record of the recovery stage), for patients with a pre-injury value (femur fracture, domain.md section 8).",
    ),
    ("低下(平均)", "Loss (mean)"),
    ("低下(中央値)", "Loss (median)"),
    ("糖尿病の指標", "Diabetes indicators"),
    (
        "眼底検査と尿中アルブミン(UACR)を記録する連携パスの継続中の計画について、計画管理施設ごとに:直近12か月にHbA1cを測った患者と、最後のHbA1cがその計画自身の目標(個別目標を含む)未満の割合、直近12か月の眼底検査とUACRの実施率、治療中断(本人の記録が90日ない、作業一覧の既定値)の割合(domain.md §8)。",
        "Active plans of pathways that record eye examinations and UACR, per planning organisation: patients with an HbA1c in the last 12 months and the share whose last HbA1c is below the plan's own target (individual targets included); eye examination and UACR coverage in the last 12 months; dropout (no record by a person for 90 days, the worklist's default) (domain.md section 8).",
    ),
    ("計画管理施設", "Planning organisation"),
    ("継続中の計画", "Active plans"),
    ("HbA1c測定あり", "HbA1c measured"),
    ("目標達成", "At target"),
    ("目標達成率", "Rate at target"),
    ("眼底検査あり", "Eye exam done"),
    ("眼底検査の実施率", "Eye exam coverage"),
    ("UACRあり", "UACR done"),
    ("UACRの実施率", "UACR coverage"),
    ("治療中断", "Dropout"),
    ("治療中断率", "Dropout rate"),
    ("終了した病期", "Ended stages"),
    ("必須項目がそろった病期", "Stages with every required item"),
    ("完全率", "Complete rate"),
    ("欠けた必須項目", "Required items missing"),
    ("遅れた記録", "Late entries"),
    ("遅れた記録の割合", "Late entry rate"),
    (
        "事象から記録までの日数(中央値)",
        "Days from event to record (median)",
    ),
    (
        "病期・施設別の記録の完全性",
        "Completeness by stage and organisation",
    ),
    (
        "終了した病期のうち、テンプレートが終了時に必須とする項目が終了までにすべて記録された病期の割合。遅れた記録は事象の日時から7日を超えて記録されたもの(返書と次の病期での活用に間に合う目安)。日数の中央値は病期ごとの中央値の中央値。",
        "Of ended stages, the share with every item the template requires at the stage's end recorded by then. Late entries were recorded more than 7 days after the event (in time for the report back and the next stage). The median days are the median of each stage's median.",
    ),
    ("施設別の記録の完全性", "Completeness by organisation"),
    (
        "施設が担ったすべての病期をまとめた完全性。「地域の中央値」は地域の施設ごとの値の中央値(各施設のホーム画面に自施設の値と並べて示す)。",
        "Completeness over every stage an organisation ran. 'Region median' is the median of the organisations' figures (shown next to each organisation's own on its home page).",
    ),
    ("地域の中央値", "Region median"),
    ("指標", "Indicator"),
    ("比較元の版", "First version"),
    ("比較元の患者数", "First version patients"),
    ("比較先の版", "Second version"),
    ("比較先の患者数", "Second version patients"),
    ("差(比較先−比較元)", "Difference (second - first)"),
    (
        "同じ絞り込みで、版ごとに計算した指標。計算の定義は各レポート(流れ・目標・アウトカム)と同じ。差は比較先−比較元。",
        "The same indicators computed per version under the same filter, defined as in the flow, goals and outcomes reports. The difference is second minus first.",
    ),
    ("版の比較:患者の流れ", "Versions compared: flow"),
    ("計画の数", "Plans"),
    ("完了した計画の割合(%)", "Plans completed (%)"),
    ("日数の中央値", "median days"),
    (
        "版の比較:目標の達成率",
        "Versions compared: goal attainment",
    ),
    ("版の比較:アウトカム指標", "Versions compared: outcomes"),
    ("自宅退院率(%)", "Home discharge rate (%)"),
    (
        "負のバリアンスがある計画の割合(%)",
        "Plans with a negative variance (%)",
    ),
    ("バリアンスのパレート図", "Variance Pareto"),
    (
        "取り消されていないバリアンスをコードごとに数えた計画の数(地域全体)、多い順、累積割合つき。自動判定のバリアンスは人が分類した後は分類後のコードで数える。",
        "Plans with each standing (not dismissed) variance code (whole region), most frequent first, with the cumulative share. An automatic variance a person has classified counts under its new code.",
    ),
    ("原因分類別のバリアンス", "Variances by cause"),
    (
        "原因分類ごとの、正・負、自動判定・記録のバリアンスがある計画の数(地域全体)。自動判定は未説明の目標未達成・上限超過をシステムが記録したもの(人が分類した後も自動判定として数える)。",
        "Per cause category, plans with positive and negative, automatic and recorded variances (whole region). Automatic: the system recorded an unexplained missed goal or stage limit (still counted as automatic once a person has classified it).",
    ),
    ("原因分類", "Cause"),
    ("正", "Positive"),
    ("負", "Negative"),
    ("自動判定", "Automatic"),
    (
        "病期・施設別のバリアンス",
        "Variances by stage and organisation",
    ),
    (
        "病期ごと、その病期を担った施設ごとの、バリアンスがある計画の数と、その病期に入った計画に対する割合。",
        "Per stage and organisation that ran it: plans with a variance, and their share of the plans that entered the stage.",
    ),
    ("病期に入った計画", "Plans in the stage"),
    ("負のバリアンスの割合", "Negative variance rate"),
    ("人が記録", "Recorded by a person"),
    ("伏せた値", "Values not shown"),
    ("自施設", "This organisation"),
    ("地域の施設", "Organisations in the region"),
    (
        "病期終了時に必須項目がそろった割合",
        "Stages ended with every required item",
    ),
    (
        "遅れた記録の割合(事象から7日超)",
        "Entries recorded late (over 7 days after the event)",
    ),
    (
        "統計利用に同意した計画のうち、自施設が担った病期と記録の集計です。地域の中央値は地域の施設ごとの値の中央値です。",
        "Stages and entries of this organisation on plans whose consent includes statistics. The region median is the median of the organisations' figures.",
    ),
    (
        "自施設の集計対象となる病期・記録はまだありません。",
        "No stage or entry of this organisation is counted yet.",
    ),
    (
        "比較できる施設または患者が少ないため、地域の中央値は表示しません。",
        "The region median is not shown: too few organisations or patients to compare with.",
    ),
    (
        "自施設の記録の完全性の報告を見る",
        "Open the data completeness report of this organisation",
    ),
    (
        "他の値から逆算できないよう伏せた値",
        "withheld so that a small value cannot be worked out from the others",
    ),
];

/// The English of a fixed screen word when `lang` is English and the table has it;
/// else the Japanese as given.
pub fn ui_text(ja: &'static str, lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => ja,
        Lang::En => UI_TEXT
            .iter()
            .find(|(j, _)| *j == ja)
            .map(|(_, e)| *e)
            .unwrap_or(ja),
    }
}

/// Whether the table has English for `ja`.
pub fn ui_text_known(ja: &str) -> bool {
    UI_TEXT.iter().any(|(j, _)| *j == ja)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when any code or rule has no words in either language (the matches above
    /// are exhaustive, and `ALL` is generated from the same list as the enums).
    #[test]
    fn every_code_and_rule_has_words_in_both_languages() {
        for code in ErrorCode::ALL {
            for lang in [Lang::Ja, Lang::En] {
                assert!(!title(*code, lang).trim().is_empty(), "{code:?} {lang:?}");
                assert!(
                    !explanation(*code, lang).trim().is_empty(),
                    "{code:?} {lang:?}"
                );
            }
            assert_ne!(title(*code, Lang::Ja), title(*code, Lang::En));
        }
        for rule in Rule::ALL {
            for field in ["values.mrs", "note", "birth_date", ""] {
                let e = FieldError::new(field, *rule, "");
                let ja = field_message(&e, Lang::Ja, &FieldFacts::default());
                let en = field_message(&e, Lang::En, &FieldFacts::default());
                assert!(!ja.trim().is_empty() && !en.trim().is_empty(), "{rule:?}");
                assert!(!ja.is_ascii(), "{rule:?}: {ja}");
                assert!(en.is_ascii(), "{rule:?}: {en}");
            }
        }
    }

    #[test]
    fn a_range_error_without_a_template_states_the_bounds_of_its_detail() {
        let e = FieldError::new("values.mrs", Rule::Range, "must be between 0 and 6");
        let ja = field_message(&e, Lang::Ja, &FieldFacts::default());
        assert_eq!(ja, "「values.mrs」は 0〜6 の範囲で入力してください。");
        let e = FieldError::new("values.sbp", Rule::Range, "must be at least 40 mmHg");
        assert_eq!(
            field_message(&e, Lang::En, &FieldFacts::default()),
            "`values.sbp` must be at least 40 mmHg."
        );
        let e = FieldError::new("values.x", Rule::Range, "odd");
        assert_eq!(
            field_message(&e, Lang::Ja, &FieldFacts::default()),
            "「values.x」の入力内容を確認してください。"
        );
    }

    #[test]
    fn a_template_label_and_range_shape_the_message() {
        let e = FieldError::new("values.mrs", Rule::Range, "must be between 0 and 5");
        let facts = FieldFacts {
            label: Some("mRS"),
            range: Some("0〜5"),
            ..FieldFacts::default()
        };
        assert_eq!(
            field_message(&e, Lang::Ja, &facts),
            "mRSは 0〜5 の範囲で入力してください。"
        );
        assert_eq!(
            field_message(&e, Lang::En, &facts),
            "mRS must be within 0〜5."
        );
        assert_eq!(
            field_message(&e, Lang::Ja, &FieldFacts::default()),
            "「values.mrs」は 0〜5 の範囲で入力してください。"
        );
        let e = FieldError::new("values.walk", Rule::Type, "");
        let facts = FieldFacts {
            label: Some("歩行"),
            item_type: Some(ItemType::Boolean),
            ..FieldFacts::default()
        };
        assert_eq!(
            field_message(&e, Lang::Ja, &facts),
            "歩行は「はい」か「いいえ」を選んでください。"
        );
    }

    #[test]
    fn goal_states_and_variance_parts_have_words_in_both_languages() {
        use crate::goals::{DeviationDirection, GoalState};
        for state in [
            GoalState::Met,
            GoalState::NotMet,
            GoalState::Pending,
            GoalState::Overdue,
            GoalState::NotApplicable,
        ] {
            for d in [
                None,
                Some(DeviationDirection::BelowRange),
                Some(DeviationDirection::AboveRange),
            ] {
                let (ja, en) = (
                    goal_state(state, d, Lang::Ja),
                    goal_state(state, d, Lang::En),
                );
                assert!(
                    !ja.is_ascii() && en.is_ascii() && !en.is_empty(),
                    "{state:?}"
                );
            }
        }
        assert_eq!(
            goal_state(GoalState::NotApplicable, None, Lang::Ja),
            "対象外"
        );
        assert_eq!(
            goal_state(
                GoalState::NotMet,
                Some(DeviationDirection::BelowRange),
                Lang::Ja
            ),
            "下限未満"
        );
        assert_eq!(
            goal_state(
                GoalState::NotMet,
                Some(DeviationDirection::AboveRange),
                Lang::Ja
            ),
            "上限超過"
        );
        assert_eq!(
            goal_bound(DeviationDirection::BelowRange, "7.0", Lang::Ja),
            "下限 7.0"
        );
        assert_eq!(
            variance_part(VARIANCE_CAUSES, "UN", Lang::Ja),
            Some("未分類")
        );
        assert_eq!(
            variance_part(VARIANCE_CAUSES, "UN", Lang::En),
            Some("Unclassified")
        );
        assert_eq!(variance_part(VARIANCE_LEVELS, "XX", Lang::Ja), None);
        for table in [VARIANCE_DIRECTIONS, VARIANCE_LEVELS, VARIANCE_CAUSES] {
            for (code, _, _) in table {
                assert!(variance_part(table, code, Lang::En).is_some_and(str::is_ascii));
            }
        }
    }

    #[test]
    fn accept_language_picks_english_only_when_preferred() {
        let cases = [
            (None, Lang::Ja),
            (Some(""), Lang::Ja),
            (Some("en"), Lang::En),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("EN-gb"), Lang::En),
            (Some("ja,en;q=0.8"), Lang::Ja),
            (Some("en;q=0.5, ja;q=0.9"), Lang::Ja),
            (Some("fr, en;q=0.7"), Lang::En),
            (Some("fr, de"), Lang::Ja),
            (Some("en;q=0"), Lang::Ja),
            (Some("*"), Lang::Ja),
            (Some("ja-JP, en"), Lang::Ja),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn every_fixed_screen_word_has_one_english_wording() {
        let mut seen = std::collections::HashSet::new();
        for (ja, en) in UI_TEXT {
            assert!(seen.insert(*ja), "{ja} twice");
            assert!(!en.trim().is_empty(), "{ja} has no English");
            assert!(en.is_ascii() || *en == "—", "{ja}: {en}");
            assert_eq!(ui_text(ja, Lang::En), *en);
            assert_eq!(ui_text(ja, Lang::Ja), *ja);
        }
        assert_eq!(ui_text("未登録の語", Lang::En), "未登録の語");
    }
}
