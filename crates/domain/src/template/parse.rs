//! Parsing and validating a template file, reporting every error with its line and column.
//!
//! Syntax and type errors come from the TOML deserializer (which stops at the first one);
//! unknown keys and every semantic rule are collected in one pass so an author sees all
//! of them at once. Each semantic error carries a path into the document (`goals[2].target.item`)
//! which is resolved to a line and column against the parsed TOML syntax tree.

use std::collections::{HashMap, HashSet};

use super::model::{Condition, GoalTarget, ItemType, PathwayTemplate, Point};
use super::model::{GoalMode, IntervalSince, ScheduleRule, Scope};
use super::variants::{ResolvedIndices, applies};
use crate::variance::parse_variance_code;

/// One problem found in a template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Dotted path of the offending field, e.g. `goals[2].target.item` (empty for syntax errors).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.line, self.column, self.path, self.message
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

type Path = Vec<Seg>;

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

macro_rules! p {
    ($($seg:expr),* $(,)?) => {
        vec![$(Seg::from($seg)),*]
    };
}

impl From<&str> for Seg {
    fn from(value: &str) -> Self {
        Seg::Key(value.to_owned())
    }
}
impl From<usize> for Seg {
    fn from(value: usize) -> Self {
        Seg::Index(value)
    }
}

/// Parses and validates a template's source text.
///
/// `expected` is `(directory code, version from the file name)` when the caller knows
/// where the file lives; a mismatch is reported like any other error.
pub fn parse_template(
    source: &str,
    expected: Option<(&str, u32)>,
) -> Result<PathwayTemplate, Vec<Diagnostic>> {
    let doc = match toml_edit::Document::parse(source) {
        Ok(doc) => doc,
        Err(err) => {
            let offset = err.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_col(source, offset);
            return Err(vec![Diagnostic {
                line,
                column,
                path: String::new(),
                message: first_line(err.message()),
            }]);
        }
    };
    let mut unknown: Vec<Path> = Vec::new();
    let parsed: Result<PathwayTemplate, toml::de::Error> = toml::Deserializer::parse(source)
        .and_then(|de| {
            serde_ignored::deserialize(de, |path| {
                unknown.push(ignored_path(&path));
            })
        });
    let mut errors: Vec<(Path, String)> = Vec::new();
    let template = match parsed {
        Ok(t) => t,
        Err(err) => {
            let offset = err.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_col(source, offset);
            let mut diags = vec![Diagnostic {
                line,
                column,
                path: String::new(),
                message: first_line(err.message()),
            }];
            for path in unknown {
                let (line, column) = locate(&doc, source, &path);
                diags.push(Diagnostic {
                    line,
                    column,
                    path: path_string(&path),
                    message: "unknown field".to_owned(),
                });
            }
            diags.sort_by_key(|d| (d.line, d.column));
            return Err(diags);
        }
    };
    for path in unknown {
        errors.push((path, "unknown field".to_owned()));
    }
    validate(&template, expected, &mut errors);
    // Each variant must make a valid template of its own (what its plans read); checked
    // once the template itself is valid, so each problem is reported once.
    if errors.is_empty() {
        for v in &template.variants {
            let Some((resolved, idx)) = template.resolve_variant(&v.code) else {
                continue;
            };
            let mut inner = Vec::new();
            validate(&resolved, expected, &mut inner);
            for (path, msg) in inner {
                errors.push((
                    path_in_source(path, &idx),
                    format!("in variant `{}`: {msg}", v.code),
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(template);
    }
    let mut diags: Vec<Diagnostic> = errors
        .into_iter()
        .map(|(path, message)| {
            let (line, column) = locate(&doc, source, &path);
            Diagnostic {
                line,
                column,
                path: path_string(&path),
                message,
            }
        })
        .collect();
    diags.sort_by_key(|d| (d.line, d.column));
    Err(diags)
}

/// A path into a template resolved for a variant, as a path into the file it came from.
fn path_in_source(mut path: Path, idx: &ResolvedIndices) -> Path {
    if let (Some(Seg::Key(list)), Some(Seg::Index(i))) = (path.first(), path.get(1)) {
        let map = match list.as_str() {
            "stages" => Some(&idx.stages),
            "items" => Some(&idx.items),
            "goals" => Some(&idx.goals),
            "schedule" => Some(&idx.schedule),
            _ => None,
        };
        if let Some(original) = map.and_then(|m| m.get(*i)) {
            path[1] = Seg::Index(*original);
        }
    }
    path
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_owned()
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> Path {
    let mut out = Vec::new();
    fn walk(path: &serde_ignored::Path<'_>, out: &mut Path) {
        match path {
            serde_ignored::Path::Root => {}
            serde_ignored::Path::Seq { parent, index } => {
                walk(parent, out);
                out.push(Seg::Index(*index));
            }
            serde_ignored::Path::Map { parent, key } => {
                walk(parent, out);
                out.push(Seg::Key(key.clone()));
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    walk(path, &mut out);
    out
}

/// 1-based line and character column of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Finds the position of `path` in the document: the key of the last segment when it
/// exists, else the deepest enclosing node that does.
fn locate(doc: &toml_edit::Document<&str>, source: &str, path: &[Seg]) -> (usize, usize) {
    use toml_edit::{Item, Table, Value};
    enum Node<'a> {
        Table(&'a Table),
        Item(&'a Item),
        Value(&'a Value),
    }
    fn in_table<'a>(
        t: &'a Table,
        k: &str,
        best: &mut Option<std::ops::Range<usize>>,
    ) -> Option<Node<'a>> {
        t.get_key_value(k).map(|(key, item)| {
            if let Some(span) = key.span().or_else(|| item.span()) {
                *best = Some(span);
            }
            match item {
                Item::Table(t) => Node::Table(t),
                other => Node::Item(other),
            }
        })
    }
    let mut best: Option<std::ops::Range<usize>> = None;
    let mut node = Node::Table(doc.as_table());
    for seg in path {
        let next = match (&node, seg) {
            (Node::Table(t), Seg::Key(k)) => in_table(t, k, &mut best),
            (Node::Item(Item::Value(Value::InlineTable(t))), Seg::Key(k))
            | (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                t.get_key_value(k).map(|(key, value)| {
                    if let Some(span) = key.span().or_else(|| value.span()) {
                        best = Some(span);
                    }
                    Node::Item(value)
                })
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(|t| {
                if let Some(span) = t.span() {
                    best = Some(span);
                }
                Node::Table(t)
            }),
            (Node::Item(Item::Value(Value::Array(a))), Seg::Index(i))
            | (Node::Value(Value::Array(a)), Seg::Index(i)) => a.get(*i).map(|v| {
                if let Some(span) = v.span() {
                    best = Some(span);
                }
                Node::Value(v)
            }),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    match best {
        Some(span) => line_col(source, span.start),
        None => (1, 1),
    }
}

fn is_snake(code: &str) -> bool {
    !code.is_empty()
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_kebab(code: &str) -> bool {
    !code.is_empty()
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && !code.ends_with('-')
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_numeric(t: ItemType) -> bool {
    matches!(
        t,
        ItemType::Integer | ItemType::Decimal | ItemType::Composite
    )
}

/// Every semantic rule of the template language; errors are pushed, never returned early.
fn validate(t: &PathwayTemplate, expected: Option<(&str, u32)>, errors: &mut Vec<(Path, String)>) {
    let mut err = |path: Path, msg: String| errors.push((path, msg));

    if !is_kebab(&t.code) {
        err(
            p!["code"],
            format!("pathway code `{}` must be kebab-case", t.code),
        );
    }
    if t.version == 0 {
        err(p!["version"], "version must be 1 or more".into());
    }
    if let Some((dir, version)) = expected {
        if t.code != dir {
            err(
                p!["code"],
                format!("code `{}` does not match its directory `{dir}`", t.code),
            );
        }
        if t.version != version {
            err(
                p!["version"],
                format!(
                    "version {} does not match the file name v{version}.toml",
                    t.version
                ),
            );
        }
    }

    // Stages.
    let mut stage_pos: HashMap<&str, usize> = HashMap::new();
    if t.stages.is_empty() {
        err(p!["stages"], "a pathway needs at least one stage".into());
    }
    // The planner owns the first stage, so it must be of a kind that takes it.
    if let Some(first) = t.stages.first() {
        for (i, k) in t.planner_kinds.iter().enumerate() {
            if !first.provider_kinds.contains(k) {
                let kind = serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                err(
                    p!["planner_kinds", i],
                    format!(
                        "planner kind `{kind}` does not take the first stage `{}`",
                        first.code
                    ),
                );
            }
        }
    }
    for (i, s) in t.stages.iter().enumerate() {
        if !is_snake(&s.code) {
            err(
                p!["stages", i, "code"],
                format!("stage code `{}` must be snake_case", s.code),
            );
        }
        if stage_pos.insert(&s.code, i).is_some() {
            err(
                p!["stages", i, "code"],
                format!("duplicate stage code `{}`", s.code),
            );
        }
        if s.provider_kinds.is_empty() {
            err(
                p!["stages", i, "provider_kinds"],
                "a stage needs at least one provider kind".into(),
            );
        }
        if let (Some(e), Some(m)) = (s.expected_days, s.max_days)
            && e > m
        {
            err(
                p!["stages", i, "expected_days"],
                format!("expected_days {e} is greater than max_days {m}"),
            );
        }
    }
    for (i, s) in t.stages.iter().enumerate() {
        if let Some(next) = &s.next {
            for (j, n) in next.iter().enumerate() {
                match stage_pos.get(n.as_str()) {
                    None => err(
                        p!["stages", i, "next", j],
                        format!("next names unknown stage `{n}`"),
                    ),
                    Some(&pos) if !t.cyclical && pos <= i => err(
                        p!["stages", i, "next", j],
                        format!(
                            "stage order broken: `{}` may not lead back to earlier stage `{n}` in a pathway that is not cyclical",
                            s.code
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
    }
    // Every stage must be reachable from the first.
    if let Some(first) = t.stages.first() {
        let mut seen: HashSet<String> = HashSet::new();
        let mut todo = vec![first.code.clone()];
        while let Some(code) = todo.pop() {
            if seen.insert(code.clone()) {
                todo.extend(t.next_stages(&code));
            }
        }
        for (i, s) in t.stages.iter().enumerate() {
            if !seen.contains(&s.code) {
                err(
                    p!["stages", i, "code"],
                    format!(
                        "stage order broken: stage `{}` cannot be reached from the first stage `{}`",
                        s.code, first.code
                    ),
                );
            }
        }
    }
    let known_stage = |code: &str| stage_pos.contains_key(code);

    // Items.
    let mut items: HashMap<&str, ItemType> = HashMap::new();
    for (i, item) in t.items.iter().enumerate() {
        if !is_snake(&item.code) {
            err(
                p!["items", i, "code"],
                format!("item code `{}` must be snake_case", item.code),
            );
        }
        if items.insert(&item.code, item.item_type).is_some() {
            err(
                p!["items", i, "code"],
                format!("duplicate item code `{}`", item.code),
            );
        }
    }
    for (i, item) in t.items.iter().enumerate() {
        let numeric = is_numeric(item.item_type);
        if let (Some(min), Some(max)) = (item.min, item.max)
            && min > max
        {
            err(
                p!["items", i, "min"],
                format!("min {min} is greater than max {max}"),
            );
        }
        if !numeric && (item.min.is_some() || item.max.is_some()) {
            let key = if item.min.is_some() { "min" } else { "max" };
            err(
                p!["items", i, key],
                format!(
                    "a range applies only to numeric items, not {:?}",
                    item.item_type
                )
                .to_lowercase(),
            );
        }
        if item.item_type == ItemType::Integer {
            for (k, v) in [("min", item.min), ("max", item.max)] {
                if let Some(v) = v
                    && v.fract() != 0.0
                {
                    err(
                        p!["items", i, k],
                        format!("{k} {v} of an integer item must be a whole number"),
                    );
                }
            }
        }
        match &item.allowed {
            Some(allowed) if item.item_type != ItemType::Integer => err(
                p!["items", i, "allowed"],
                "an allowed set applies only to integer items".into(),
            ),
            Some(allowed) if allowed.is_empty() => {
                err(p!["items", i, "allowed"], "allowed set is empty".into())
            }
            Some(allowed) => {
                let mut seen = HashSet::new();
                for (j, v) in allowed.iter().enumerate() {
                    if !seen.insert(v) {
                        err(
                            p!["items", i, "allowed", j],
                            format!("duplicate allowed value {v}"),
                        );
                    }
                }
            }
            None => {}
        }
        match (&item.options, item.item_type) {
            (None, ItemType::Choice) => err(
                p!["items", i, "type"],
                format!("choice item `{}` has no options", item.code),
            ),
            (Some(opts), ItemType::Choice) if opts.is_empty() => err(
                p!["items", i, "options"],
                format!("choice item `{}` has no options", item.code),
            ),
            (Some(opts), ItemType::Choice) => {
                let mut seen = HashSet::new();
                for (j, o) in opts.iter().enumerate() {
                    if !is_snake(&o.code) {
                        err(
                            p!["items", i, "options", j, "code"],
                            format!("option code `{}` must be snake_case", o.code),
                        );
                    }
                    if !seen.insert(o.code.as_str()) {
                        err(
                            p!["items", i, "options", j, "code"],
                            format!("duplicate option code `{}`", o.code),
                        );
                    }
                }
            }
            (Some(_), _) => err(
                p!["items", i, "options"],
                "options apply only to choice items".into(),
            ),
            (None, _) => {}
        }
        match (&item.components, item.item_type) {
            (None, ItemType::Composite) => err(
                p!["items", i, "type"],
                format!("composite item `{}` lists no components", item.code),
            ),
            (Some(c), ItemType::Composite) if c.is_empty() => err(
                p!["items", i, "components"],
                format!("composite item `{}` lists no components", item.code),
            ),
            (Some(c), ItemType::Composite) => {
                for (j, comp) in c.iter().enumerate() {
                    match items.get(comp.as_str()) {
                        None => err(
                            p!["items", i, "components", j],
                            format!("composite `{}` names missing item `{comp}`", item.code),
                        ),
                        Some(ItemType::Integer) | Some(ItemType::Decimal) => {}
                        Some(other) => err(
                            p!["items", i, "components", j],
                            format!(
                                "component `{comp}` must be an integer or decimal item, not {}",
                                format!("{other:?}").to_lowercase()
                            ),
                        ),
                    }
                }
            }
            (Some(_), _) => err(
                p!["items", i, "components"],
                "components apply only to composite items".into(),
            ),
            (None, _) => {}
        }
        if item.stages.is_empty() {
            err(
                p!["items", i, "stages"],
                "an item must be recordable in at least one stage".into(),
            );
        }
        for (j, s) in item.stages.iter().enumerate() {
            if !known_stage(s) {
                err(p!["items", i, "stages", j], format!("unknown stage `{s}`"));
            }
        }
        for (key, list) in [
            ("required_at_start", &item.required_at_start),
            ("required_at_end", &item.required_at_end),
        ] {
            for (j, s) in list.iter().enumerate() {
                if !known_stage(s) {
                    err(p!["items", i, key, j], format!("unknown stage `{s}`"));
                } else if !item.stages.contains(s) {
                    err(
                        p!["items", i, key, j],
                        format!(
                            "item `{}` is required in stage `{s}` but not recordable there",
                            item.code
                        ),
                    );
                }
            }
        }
    }

    // Goals.
    let item_of = |code: &str| t.item(code);
    let mut goal_codes = HashSet::new();
    for (i, g) in t.goals.iter().enumerate() {
        if !is_snake(&g.code) {
            err(
                p!["goals", i, "code"],
                format!("goal code `{}` must be snake_case", g.code),
            );
        }
        if !goal_codes.insert(g.code.as_str()) {
            err(
                p!["goals", i, "code"],
                format!("duplicate goal code `{}`", g.code),
            );
        }
        let mut need_item =
            |field: &str, code: &str, want: &[ItemType], what: &str| match item_of(code) {
                None => err(
                    p!["goals", i, "target", field],
                    format!("goal `{}` names unknown item `{code}`", g.code),
                ),
                Some(it) if !want.contains(&it.item_type) => err(
                    p!["goals", i, "target", field],
                    format!("goal `{}` needs {what} item, `{code}` is not", g.code),
                ),
                Some(_) => {}
            };
        const NUM: &[ItemType] = &[ItemType::Integer, ItemType::Decimal, ItemType::Composite];
        match &g.target {
            GoalTarget::Threshold { item, .. } => need_item("item", item, NUM, "a numeric"),
            GoalTarget::Range { item, min, max } => {
                need_item("item", item, NUM, "a numeric");
                if min >= max {
                    err(
                        p!["goals", i, "target", "min"],
                        format!("range min {min} must be below max {max}"),
                    );
                }
            }
            GoalTarget::Change { from, to, .. } => {
                for (key, point) in [("from", from), ("to", to)] {
                    check_point(t, i, key, point, &mut err);
                }
            }
            GoalTarget::Membership { item, values } => {
                match item_of(item) {
                    None => err(
                        p!["goals", i, "target", "item"],
                        format!("goal `{}` names unknown item `{item}`", g.code),
                    ),
                    Some(it) => match &it.options {
                        Some(opts) if it.item_type == ItemType::Choice => {
                            for (j, v) in values.iter().enumerate() {
                                if !opts.iter().any(|o| &o.code == v) {
                                    err(
                                        p!["goals", i, "target", "values", j],
                                        format!("`{v}` is not an option of `{item}`"),
                                    );
                                }
                            }
                        }
                        _ => err(
                            p!["goals", i, "target", "item"],
                            format!("goal `{}` needs a choice item, `{item}` is not", g.code),
                        ),
                    },
                }
                if values.is_empty() {
                    err(
                        p!["goals", i, "target", "values"],
                        "no values listed".into(),
                    );
                }
            }
            GoalTarget::StageLength { stage, days, .. } => {
                if !known_stage(stage) {
                    err(
                        p!["goals", i, "target", "stage"],
                        format!("goal `{}` names unknown stage `{stage}`", g.code),
                    );
                }
                if *days == 0 {
                    err(
                        p!["goals", i, "target", "days"],
                        "days must be 1 or more".into(),
                    );
                }
            }
            GoalTarget::TimeBetween {
                from_item,
                to_item,
                max_hours,
            } => {
                const DT: &[ItemType] = &[ItemType::Datetime];
                need_item("from_item", from_item, DT, "a datetime");
                need_item("to_item", to_item, DT, "a datetime");
                if *max_hours == 0 {
                    err(
                        p!["goals", i, "target", "max_hours"],
                        "max_hours must be 1 or more".into(),
                    );
                }
            }
            GoalTarget::DaysBetween {
                from_item, to_item, ..
            } => {
                const WHEN: &[ItemType] = &[ItemType::Date, ItemType::Datetime];
                need_item("from_item", from_item, WHEN, "a date or datetime");
                need_item("to_item", to_item, WHEN, "a date or datetime");
            }
            GoalTarget::DoneWithin { item, months } => {
                if item_of(item).is_none() {
                    err(
                        p!["goals", i, "target", "item"],
                        format!("goal `{}` names unknown item `{item}`", g.code),
                    );
                }
                if *months == 0 {
                    err(
                        p!["goals", i, "target", "months"],
                        "months must be 1 or more".into(),
                    );
                }
            }
        }
        if let Some(due) = &g.due
            && !known_stage(&due.stage)
        {
            err(
                p!["goals", i, "due", "stage"],
                format!("due names unknown stage `{}`", due.stage),
            );
        }
        check_goal_semantics(t, i, &mut err);
    }

    // Variance codes.
    let mut seen = HashSet::new();
    for (i, v) in t.variances.iter().enumerate() {
        if let Err(msg) = parse_variance_code(&v.code) {
            err(p!["variances", i, "code"], msg);
        }
        if !seen.insert(v.code.as_str()) {
            err(
                p!["variances", i, "code"],
                format!("duplicate variance code `{}`", v.code),
            );
        }
    }

    // A goal's automatic variance code: a code of the scheme, listed in `[[variances]]`,
    // with a cause the system can know (system or unknown).
    for (i, g) in t.goals.iter().enumerate() {
        let Some(code) = g.variance.as_deref() else {
            continue;
        };
        if let Err(msg) = parse_variance_code(code) {
            err(p!["goals", i, "variance"], msg);
        } else if t.variance(code).is_none() {
            err(
                p!["goals", i, "variance"],
                format!("variance code `{code}` is not listed in [[variances]]"),
            );
        } else if !crate::variance::is_automatic_cause(code) {
            err(
                p!["goals", i, "variance"],
                format!(
                    "automatic variance code `{code}` must have cause category SY or UN (a person gives other causes when classifying it)"
                ),
            );
        }
    }

    // Schedule.
    let mut seen = HashSet::new();
    for (i, r) in t.schedule.iter().enumerate() {
        if !is_snake(&r.code) {
            err(
                p!["schedule", i, "code"],
                format!("schedule code `{}` must be snake_case", r.code),
            );
        }
        if !seen.insert(r.code.as_str()) {
            err(
                p!["schedule", i, "code"],
                format!("duplicate schedule code `{}`", r.code),
            );
        }
        if r.interval_days == 0 {
            err(
                p!["schedule", i, "interval_days"],
                "schedule interval must be 1 day or more".into(),
            );
        }
        if r.items.is_empty() {
            err(
                p!["schedule", i, "items"],
                "a schedule rule needs at least one item".into(),
            );
        }
        for (j, it) in r.items.iter().enumerate() {
            if item_of(it).is_none() {
                err(
                    p!["schedule", i, "items", j],
                    format!("schedule `{}` names unknown item `{it}`", r.code),
                );
            }
        }
    }

    check_codes_and_schedule_rules(t, &mut err);
    check_variants(t, &mut err);
}

/// The `[[variants]]` list, what each variant overrides, and the `variants` lists of
/// stages, items, goals and schedule rules.
fn check_variants(t: &PathwayTemplate, err: &mut impl FnMut(Path, String)) {
    if t.variants.len() == 1 {
        err(
            p!["variants", 0, "code"],
            "a pathway with variants needs at least two (one variant is no branch)".into(),
        );
    }
    let mut codes = HashSet::new();
    for (i, v) in t.variants.iter().enumerate() {
        if !is_snake(&v.code) {
            err(
                p!["variants", i, "code"],
                format!("variant code `{}` must be snake_case", v.code),
            );
        }
        if !codes.insert(v.code.as_str()) {
            err(
                p!["variants", i, "code"],
                format!("duplicate variant code `{}`", v.code),
            );
        }
        if v.title.ja.trim().is_empty() {
            err(
                p!["variants", i, "title", "ja"],
                format!("variant `{}` needs a Japanese title", v.code),
            );
        }
        for (code, o) in &v.stages {
            let at = p!["variants", i, "stages", code.as_str()];
            match t.stage(code) {
                None => err(
                    at,
                    format!("variant `{}` overrides unknown stage `{code}`", v.code),
                ),
                Some(s) if !applies(&s.variants, &v.code) => err(
                    at,
                    format!(
                        "variant `{}` overrides stage `{code}`, which does not apply to it",
                        v.code
                    ),
                ),
                Some(_)
                    if o.expected_days.is_none()
                        && o.max_days.is_none()
                        && o.exit_criteria.is_none() =>
                {
                    err(
                        at,
                        format!("variant `{}` overrides nothing of stage `{code}`", v.code),
                    )
                }
                Some(_) => {}
            }
        }
        for (code, o) in &v.goals {
            let at = |field: &str| {
                let mut p = p!["variants", i, "goals", code.as_str()];
                if !field.is_empty() {
                    p.push(Seg::from(field));
                }
                p
            };
            let Some(g) = t.goals.iter().find(|g| &g.code == code) else {
                err(
                    at(""),
                    format!("variant `{}` overrides unknown goal `{code}`", v.code),
                );
                continue;
            };
            if !applies(&g.variants, &v.code) {
                err(
                    at(""),
                    format!(
                        "variant `{}` overrides goal `{code}`, which does not apply to it",
                        v.code
                    ),
                );
            }
            let kind = match &g.target {
                GoalTarget::Threshold { .. } => "threshold",
                GoalTarget::Range { .. } => "range",
                GoalTarget::Change { .. } => "change",
                GoalTarget::Membership { .. } => "membership",
                GoalTarget::StageLength { .. } => "stage_length",
                GoalTarget::TimeBetween { .. } => "time_between",
                GoalTarget::DoneWithin { .. } => "done_within",
                GoalTarget::DaysBetween { .. } => "days_between",
            };
            let fields: [(&str, bool, &[&str]); 6] = [
                ("value", o.value.is_some(), &["threshold", "change"]),
                ("min", o.min.is_some(), &["range"]),
                ("max", o.max.is_some(), &["range"]),
                ("days", o.days.is_some(), &["stage_length", "days_between"]),
                ("max_hours", o.max_hours.is_some(), &["time_between"]),
                ("months", o.months.is_some(), &["done_within"]),
            ];
            for (field, set, kinds) in fields {
                if set && !kinds.contains(&kind) {
                    err(
                        at(field),
                        format!(
                            "variant `{}`: `{field}` does not apply to goal `{code}` of kind {kind}",
                            v.code
                        ),
                    );
                }
            }
            if o.value.is_some() && g.follows.is_some() {
                err(
                    at("value"),
                    format!(
                        "variant `{}`: goal `{code}` follows another goal's target; override that goal instead",
                        v.code
                    ),
                );
            }
            for (field, set) in [
                ("due_days", o.due_days.is_some()),
                ("due_months", o.due_months.is_some()),
            ] {
                if set && g.due.is_none() {
                    err(
                        at(field),
                        format!("variant `{}`: goal `{code}` has no `due` to move", v.code),
                    );
                }
            }
            let changes_something = fields.iter().any(|(_, set, _)| *set)
                || o.due_days.is_some()
                || o.due_months.is_some()
                || o.title.is_some()
                || o.patient_title.is_some();
            if !changes_something {
                err(
                    at(""),
                    format!("variant `{}` overrides nothing of goal `{code}`", v.code),
                );
            }
        }
    }
    let mut check_list = |list: &str, i: usize, names: &[String]| {
        let mut seen = HashSet::new();
        for (j, name) in names.iter().enumerate() {
            if !codes.contains(name.as_str()) {
                err(
                    p![list, i, "variants", j],
                    if t.variants.is_empty() {
                        format!("unknown variant `{name}`: the pathway lists no [[variants]]")
                    } else {
                        format!("unknown variant `{name}`")
                    },
                );
            } else if !seen.insert(name.as_str()) {
                err(
                    p![list, i, "variants", j],
                    format!("variant `{name}` is listed twice"),
                );
            }
        }
    };
    for (i, s) in t.stages.iter().enumerate() {
        check_list("stages", i, &s.variants);
    }
    for (i, it) in t.items.iter().enumerate() {
        check_list("items", i, &it.variants);
    }
    for (i, g) in t.goals.iter().enumerate() {
        check_list("goals", i, &g.variants);
    }
    for (i, r) in t.schedule.iter().enumerate() {
        check_list("schedule", i, &r.variants);
    }
    if let Some(first) = t.stages.first()
        && !first.variants.is_empty()
    {
        err(
            p!["stages", 0, "variants"],
            format!(
                "the first stage `{}` applies to every variant (every plan starts there)",
                first.code
            ),
        );
    }
}

/// Item `codes` and `carry_over`, schedule `interval_by` and `applies_when`.
fn check_codes_and_schedule_rules(t: &PathwayTemplate, err: &mut impl FnMut(Path, String)) {
    for (i, item) in t.items.iter().enumerate() {
        let mut seen = HashSet::new();
        for (j, c) in item.codes.iter().enumerate() {
            if !is_uri(&c.system) {
                err(
                    p!["items", i, "codes", j, "system"],
                    format!(
                        "code system `{}` of item `{}` must be a URI (`http://loinc.org`, `urn:oid:…`)",
                        c.system, item.code
                    ),
                );
            }
            if c.code.trim().is_empty() || c.code.trim() != c.code {
                err(
                    p!["items", i, "codes", j, "code"],
                    format!(
                        "code of item `{}` must be non-empty, without surrounding spaces",
                        item.code
                    ),
                );
            }
            if !seen.insert((c.system.as_str(), c.code.as_str())) {
                err(
                    p!["items", i, "codes", j, "code"],
                    format!("duplicate code `{}` of item `{}`", c.code, item.code),
                );
            }
        }
        if item.carry_over && item.stages.len() < 2 {
            err(
                p!["items", i, "carry_over"],
                format!(
                    "item `{}` is carried over but recordable in one stage only",
                    item.code
                ),
            );
        }
    }
    for (i, r) in t.schedule.iter().enumerate() {
        if let Some(by) = &r.interval_by {
            match t.item(&by.item) {
                None => err(
                    p!["schedule", i, "interval_by", "item"],
                    format!("schedule `{}` names unknown item `{}`", r.code, by.item),
                ),
                Some(it) => match (&it.options, it.item_type) {
                    (Some(opts), ItemType::Choice) => {
                        let mut banded = HashSet::new();
                        for (j, band) in by.bands.iter().enumerate() {
                            if band.days == 0 {
                                err(
                                    p!["schedule", i, "interval_by", "bands", j, "days"],
                                    "an interval must be 1 day or more".into(),
                                );
                            }
                            if band.values.is_empty() {
                                err(
                                    p!["schedule", i, "interval_by", "bands", j, "in"],
                                    "a band lists no values".into(),
                                );
                            }
                            for (k, v) in band.values.iter().enumerate() {
                                if !opts.iter().any(|o| &o.code == v) {
                                    err(
                                        p!["schedule", i, "interval_by", "bands", j, "in", k],
                                        format!("`{v}` is not an option of `{}`", by.item),
                                    );
                                } else if !banded.insert(v.as_str()) {
                                    err(
                                        p!["schedule", i, "interval_by", "bands", j, "in", k],
                                        format!("`{v}` is in more than one band"),
                                    );
                                }
                            }
                        }
                    }
                    _ => err(
                        p!["schedule", i, "interval_by", "item"],
                        format!(
                            "schedule `{}` needs a choice item for its interval, `{}` is not",
                            r.code, by.item
                        ),
                    ),
                },
            }
            if by.bands.is_empty() {
                err(
                    p!["schedule", i, "interval_by", "bands"],
                    "interval_by lists no bands".into(),
                );
            }
        }
        if let Some(since) = &r.interval_since {
            check_interval_since(t, i, r, since, err);
        }
        for (j, cond) in r.applies_when.iter().enumerate() {
            if let Some(msg) = schedule_condition_problem(t, cond) {
                err(
                    p!["schedule", i, "applies_when", j],
                    format!("schedule `{}`: {msg}", r.code),
                );
            }
        }
    }
}

/// A schedule rule's `interval_since`: a date item, and bands of at least one day in
/// strictly increasing months.
fn check_interval_since(
    t: &PathwayTemplate,
    i: usize,
    r: &ScheduleRule,
    since: &IntervalSince,
    err: &mut impl FnMut(Path, String),
) {
    match t.item(&since.item).map(|it| it.item_type) {
        None => err(
            p!["schedule", i, "interval_since", "item"],
            format!("schedule `{}` names unknown item `{}`", r.code, since.item),
        ),
        Some(ItemType::Date | ItemType::Datetime) => {}
        Some(other) => err(
            p!["schedule", i, "interval_since", "item"],
            format!(
                "schedule `{}` counts time from a date or datetime item, `{}` is {}",
                r.code,
                since.item,
                format!("{other:?}").to_lowercase()
            ),
        ),
    }
    if since.bands.is_empty() {
        err(
            p!["schedule", i, "interval_since", "bands"],
            "interval_since lists no bands".into(),
        );
    }
    let mut previous = 0;
    for (j, band) in since.bands.iter().enumerate() {
        if band.days == 0 {
            err(
                p!["schedule", i, "interval_since", "bands", j, "days"],
                "an interval must be 1 day or more".into(),
            );
        }
        if band.until_months <= previous {
            err(
                p!["schedule", i, "interval_since", "bands", j, "until_months"],
                format!(
                    "bands must end in increasing months: {} is not after {previous}",
                    band.until_months
                ),
            );
        }
        previous = previous.max(band.until_months);
    }
}

/// What is wrong with a schedule rule's condition, if anything: the item must exist and be
/// of the kind the condition reads, and choice values must be options of it.
fn schedule_condition_problem(t: &PathwayTemplate, cond: &Condition) -> Option<String> {
    let (code, want): (&str, &[ItemType]) = match cond {
        Condition::Age { .. } => return None,
        Condition::Choice { item, .. } => (item, &[ItemType::Choice]),
        Condition::Flag { item, .. } => (item, &[ItemType::Boolean]),
        Condition::Number { item, .. } => (
            item,
            &[ItemType::Integer, ItemType::Decimal, ItemType::Composite],
        ),
    };
    let Some(it) = t.item(code) else {
        return Some(format!("condition names unknown item `{code}`"));
    };
    if !want.contains(&it.item_type) {
        return Some(format!(
            "condition needs {} item, `{code}` is {}",
            match cond {
                Condition::Choice { .. } => "a choice",
                Condition::Flag { .. } => "a boolean",
                _ => "a numeric",
            },
            format!("{:?}", it.item_type).to_lowercase()
        ));
    }
    if let Condition::Choice { values, .. } = cond {
        if values.is_empty() {
            return Some("condition lists no values".into());
        }
        let opts = it.options.as_deref().unwrap_or_default();
        if let Some(v) = values.iter().find(|v| !opts.iter().any(|o| &o.code == *v)) {
            return Some(format!("`{v}` is not an option of `{code}`"));
        }
    }
    None
}

/// A URI as code systems are named: a scheme (`http`, `urn` …), a colon and no whitespace.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !s.chars().any(char::is_whitespace)
}

fn check_point(
    t: &PathwayTemplate,
    goal: usize,
    key: &str,
    point: &Point,
    err: &mut impl FnMut(Path, String),
) {
    match t.item(&point.item) {
        None => err(
            p!["goals", goal, "target", key, "item"],
            format!("unknown item `{}`", point.item),
        ),
        Some(it) if !is_numeric(it.item_type) => err(
            p!["goals", goal, "target", key, "item"],
            format!(
                "a change goal needs a numeric item, `{}` is not",
                point.item
            ),
        ),
        Some(it) if !it.stages.contains(&point.stage) => err(
            p!["goals", goal, "target", key, "stage"],
            format!(
                "item `{}` is not recordable in stage `{}`",
                point.item, point.stage
            ),
        ),
        Some(_) => {}
    }
    if t.stage(&point.stage).is_none() {
        err(
            p!["goals", goal, "target", key, "stage"],
            format!("unknown stage `{}`", point.stage),
        );
    }
}

/// The goal `goals[goal]`'s scope, mode, conditions and followed goal name what the
/// template defines.
fn check_goal_semantics(t: &PathwayTemplate, goal: usize, err: &mut impl FnMut(Path, String)) {
    let g = &t.goals[goal];
    match &g.scope {
        Some(Scope::Stage { stage, .. }) if t.stage(stage).is_none() => err(
            p!["goals", goal, "scope", "stage"],
            format!("goal `{}` names unknown stage `{stage}`", g.code),
        ),
        Some(Scope::SinceVisit { schedule }) if !t.schedule.iter().any(|r| &r.code == schedule) => {
            err(
                p!["goals", goal, "scope", "schedule"],
                format!("goal `{}` names unknown schedule rule `{schedule}`", g.code),
            )
        }
        Some(Scope::BeforeDue { .. }) if g.due.is_none() => err(
            p!["goals", goal, "scope"],
            format!(
                "goal `{}` reads the window before its due date but has no `due`",
                g.code
            ),
        ),
        _ => {}
    }
    let reads_values = matches!(
        g.target,
        GoalTarget::Threshold { .. } | GoalTarget::Range { .. } | GoalTarget::Membership { .. }
    );
    if g.mode != GoalMode::Latest && !reads_values {
        err(
            p!["goals", goal, "mode"],
            format!(
                "goal `{}`: only threshold, range and membership goals take a mode",
                g.code
            ),
        );
    }
    for (j, c) in g.applies_when.iter().enumerate() {
        check_condition(t, p!["goals", goal, "applies_when", j], c, err);
    }
    if let Some(f) = &g.follows {
        let leader = t.goals.iter().find(|l| l.code == f.goal);
        match leader {
            None => err(
                p!["goals", goal, "follows", "goal"],
                format!("goal `{}` follows unknown goal `{}`", g.code, f.goal),
            ),
            Some(l) if l.code == g.code || l.follows.is_some() => err(
                p!["goals", goal, "follows", "goal"],
                format!("goal `{}` must follow a goal that follows none", g.code),
            ),
            Some(l) if !matches!(l.target, GoalTarget::Threshold { .. }) => err(
                p!["goals", goal, "follows", "goal"],
                format!(
                    "goal `{}` follows `{}`, which is not a threshold goal",
                    g.code, f.goal
                ),
            ),
            Some(_) => {}
        }
        if !matches!(g.target, GoalTarget::Threshold { .. }) {
            err(
                p!["goals", goal, "follows"],
                format!(
                    "goal `{}` follows a target but is not a threshold goal",
                    g.code
                ),
            );
        }
    }
}

/// A condition names an item of the right type (and a choice condition its options).
fn check_condition(
    t: &PathwayTemplate,
    path: Path,
    c: &Condition,
    err: &mut impl FnMut(Path, String),
) {
    let at = |key: &str| {
        let mut p = path.clone();
        p.push(Seg::from(key));
        p
    };
    let (item, want, what) = match c {
        Condition::Choice { item, .. } => (item, &[ItemType::Choice][..], "a choice"),
        Condition::Flag { item, .. } => (item, &[ItemType::Boolean][..], "a boolean"),
        Condition::Number { item, .. } => (
            item,
            &[ItemType::Integer, ItemType::Decimal, ItemType::Composite][..],
            "a numeric",
        ),
        Condition::Age { .. } => return,
    };
    let Some(it) = t.item(item) else {
        err(at("item"), format!("condition names unknown item `{item}`"));
        return;
    };
    if !want.contains(&it.item_type) {
        err(
            at("item"),
            format!("condition needs {what} item, `{item}` is not"),
        );
        return;
    }
    if let Condition::Choice { values, .. } = c {
        let options = it.options.as_deref().unwrap_or_default();
        for (k, v) in values.iter().enumerate() {
            if !options.iter().any(|o| &o.code == v) {
                let mut p = at("in");
                p.push(Seg::from(k));
                err(p, format!("`{v}` is not an option of `{item}`"));
            }
        }
        if values.is_empty() {
            err(at("in"), "no values listed".into());
        }
    }
}
