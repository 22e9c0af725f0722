//! The syntax tree of one profile-language file.
//!
//! It keeps what later passes need (include targets, variable definitions
//! and uses, profile headers with their flags, file rules with their
//! permissions) with byte spans; rule kinds whose details no pass looks at
//! keep their words, so that every rule still has a place in the tree.

use crate::Span;

/// A word of the input with its span (unquoted when it was quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text, without quotes.
    pub text: String,
    /// Where it is, quotes included.
    pub span: Span,
}

/// One file: preamble statements, profiles and (in include fragments) rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct File {
    /// Top-level items in input order.
    pub items: Vec<Item>,
}

/// A statement at the top level or inside a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `abi <abi/3.0>,`
    Abi(Include),
    /// `include <x>`, `#include "x"`, `include if exists <x>`.
    Include(Include),
    /// `@{VAR}=a b` or `@{VAR}+=c`.
    Variable(VariableDef),
    /// `${BOOL}=true`.
    BoolVariable(Word),
    /// `alias /a -> /b,`.
    Alias {
        /// The path aliased.
        from: Word,
        /// The path it stands for.
        to: Word,
        /// The whole statement.
        span: Span,
    },
    /// A profile, hat or child profile.
    Profile(Profile),
    /// A rule.
    Rule(Rule),
    /// `if CONDITION { ... } else { ... }`.
    Conditional {
        /// The words of the condition.
        condition: Vec<Word>,
        /// The items when it holds.
        then: Vec<Item>,
        /// The items of the `else` branch.
        otherwise: Vec<Item>,
        /// The whole statement.
        span: Span,
    },
    /// `audit { ... }`: qualifiers over a block of rules.
    QualifiedBlock {
        /// The qualifiers applied to every item.
        qualifiers: Qualifiers,
        /// The items of the block.
        items: Vec<Item>,
        /// The whole block.
        span: Span,
    },
}

/// How an include names its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeStyle {
    /// `<x>`: searched in the include directories.
    Angle,
    /// `"x"`: a path, relative to the including file's directory.
    Quoted,
}

/// An include or abi statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The named path.
    pub target: Word,
    /// `<...>` or `"..."`.
    pub style: IncludeStyle,
    /// `include if exists`: a missing file is no error.
    pub if_exists: bool,
    /// The whole statement.
    pub span: Span,
}

/// A variable assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDef {
    /// The name without `@{` and `}`.
    pub name: String,
    /// Where the `@{NAME}` is.
    pub name_span: Span,
    /// `+=` rather than `=`.
    pub append: bool,
    /// The values.
    pub values: Vec<Word>,
}

/// Which syntax introduced a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// `profile NAME [ATTACHMENT] ...`
    Profile,
    /// `/path/to/exe ...` (the name is the attachment).
    Bare,
    /// `^name` or `hat name`.
    Hat,
}

/// A profile header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Which syntax.
    pub kind: ProfileKind,
    /// The name (absent only after a syntax error).
    pub name: Option<Word>,
    /// The attachment specification.
    pub attachment: Option<Word>,
    /// `flags=(...)`, if written.
    pub flags: Option<Flags>,
    /// Where the header starts.
    pub start: usize,
    /// The `{` that opens the body.
    pub open: Span,
    /// The `}` that closes it (empty at the end of input when missing).
    pub close: Span,
    /// The body.
    pub items: Vec<Item>,
}

/// `flags=(a, b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// From `flags` to `)`.
    pub span: Span,
    /// The flag words.
    pub items: Vec<Word>,
}

/// Rule qualifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qualifiers {
    /// `audit`.
    pub audit: bool,
    /// `deny` (as opposed to `allow` or nothing).
    pub deny: bool,
    /// `allow` written explicitly.
    pub allow: bool,
    /// `owner`.
    pub owner: bool,
    /// `priority=N`.
    pub priority: Option<i64>,
}

/// A rule with its qualifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `audit`, `deny`, `owner`, `priority=`.
    pub qualifiers: Qualifiers,
    /// What it mediates.
    pub kind: RuleKind,
    /// The whole rule, qualifiers to comma.
    pub span: Span,
}

/// The mediation class of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// A path with permissions (`/a rw,`, `r /a,`, `file /a r,`).
    File(FileRule),
    /// `file,`: every file permission.
    FileAll,
    /// `link [subset] /a -> /b,`.
    Link {
        /// `link subset`.
        subset: bool,
        /// The link's path.
        from: Word,
        /// The target it may point to.
        to: Word,
    },
    /// `capability [names],`.
    Capability(Vec<Word>),
    /// `network [domain] [type|protocol],`.
    Network(Vec<Word>),
    /// `set rlimit NAME <= VALUE,`.
    Rlimit {
        /// The limit's name (`nofile`, ...).
        name: Word,
        /// Its value.
        value: Word,
    },
    /// Any other class (`signal`, `ptrace`, `unix`, `dbus`, `mount`,
    /// `remount`, `umount`, `pivot_root`, `change_profile`, `userns`,
    /// `io_uring`, `mqueue`, `all`): the keyword and its words.
    Other {
        /// The rule's class keyword.
        keyword: Word,
        /// The words after it.
        words: Vec<Word>,
    },
}

/// A file rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRule {
    /// The path glob.
    pub path: Word,
    /// The permission word as written.
    pub perms: Word,
    /// The exec mode (`ix`, `Px`, ...), if any.
    pub exec: Option<String>,
    /// `-> target`.
    pub target: Option<Word>,
}
