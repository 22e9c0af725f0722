//! The shapes of CIL statements: for every keyword of the CIL reference
//! guide, which arguments it takes and what each one names.
//!
//! One table drives both the arity/kind checks (`super::shape`) and name
//! resolution (`super::resolve`), so a statement the checker understands
//! is checked in full and the two can never disagree about an argument.

/// A CIL symbol table: names in different tables never clash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ns {
    /// Types, type attributes and type aliases.
    Type,
    /// Roles and role attributes.
    Role,
    /// Users and user attributes.
    User,
    /// Classes and class maps.
    Class,
    /// Commons (permission sets shared by classes).
    Common,
    /// Named class permission sets.
    ClassPermission,
    /// Macros.
    Macro,
    /// Blocks (including the container templates).
    Block,
    /// Booleans.
    Bool,
    /// Tunables.
    Tunable,
    /// Initial SIDs.
    Sid,
    /// Extended permission sets.
    PermissionX,
    /// Sensitivities.
    Sensitivity,
    /// Categories.
    Category,
    /// Named levels.
    Level,
    /// Named level ranges.
    LevelRange,
    /// Named contexts.
    Context,
    /// Named IP addresses.
    IpAddr,
    /// Policy capabilities.
    PolicyCap,
}

/// Every table.
pub const ALL_NS: &[Ns] = &[
    Ns::Type,
    Ns::Role,
    Ns::User,
    Ns::Class,
    Ns::Common,
    Ns::ClassPermission,
    Ns::Macro,
    Ns::Block,
    Ns::Bool,
    Ns::Tunable,
    Ns::Sid,
    Ns::PermissionX,
    Ns::Sensitivity,
    Ns::Category,
    Ns::Level,
    Ns::LevelRange,
    Ns::Context,
    Ns::IpAddr,
    Ns::PolicyCap,
];

impl Ns {
    /// What a name of this table is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Ns::Type => "type",
            Ns::Role => "role",
            Ns::User => "user",
            Ns::Class => "class",
            Ns::Common => "common",
            Ns::ClassPermission => "classpermission",
            Ns::Macro => "macro",
            Ns::Block => "block",
            Ns::Bool => "boolean",
            Ns::Tunable => "tunable",
            Ns::Sid => "sid",
            Ns::PermissionX => "permissionx",
            Ns::Sensitivity => "sensitivity",
            Ns::Category => "category",
            Ns::Level => "level",
            Ns::LevelRange => "levelrange",
            Ns::Context => "context",
            Ns::IpAddr => "ipaddr",
            Ns::PolicyCap => "policycap",
        }
    }

    /// Tables whose names are resolved (the others are declared only).
    pub fn resolved(self) -> bool {
        matches!(
            self,
            Ns::Type
                | Ns::Role
                | Ns::Class
                | Ns::Common
                | Ns::ClassPermission
                | Ns::Macro
                | Ns::Block
                | Ns::Bool
                | Ns::Tunable
        )
    }
}

/// One argument of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Declares a new name in a table.
    Decl(Ns),
    /// Names something declared in a table.
    Ref(Ns),
    /// A type, or `self` (the target of access vector rules).
    Target,
    /// A name, or a set expression over names (`(a b)`, `(not a)`,
    /// `(and a b)`, `all`).
    Set(Ns),
    /// A class permission: a named `classpermission`, or `(CLASS (PERMS))`.
    ClassPerms,
    /// An extended permission: a named `permissionx` or `(ioctl CLASS (..))`.
    PermX,
    /// A list of permission names being declared.
    PermDecls,
    /// A list of names in a table, in order (classorder, sidorder...).
    Order(Ns),
    /// `true` or `false`.
    BoolValue,
    /// Macro parameters: `((type t) (class c) ...)`.
    Params,
    /// A boolean or tunable condition expression.
    Cond,
    /// A symbol or string whose content is not checked.
    Atom,
    /// A list whose content is not checked.
    List,
    /// Anything: atom or list, not checked.
    Any,
    /// The remaining elements are statements (bodies of containers).
    Body,
}

/// The shape of a statement.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Arguments, in order (a trailing [`Arg::Body`] takes the rest).
    pub args: &'static [Arg],
    /// How many of `args` must be present.
    pub required: usize,
    /// What the arguments mean, for messages (`SOURCE TARGET CLASSPERMS`).
    pub usage: &'static str,
}

use Arg::*;
use Ns::*;

macro_rules! spec {
    ($req:expr, $usage:expr, [$($a:expr),*]) => {
        Spec { args: &[$($a),*], required: $req, usage: $usage }
    };
}

/// The shape of statement `keyword`, or `None` if CIL has no such keyword.
pub fn spec(keyword: &str) -> Option<Spec> {
    keyword_index(keyword).and_then(spec_at)
}

/// Keyword positions and shapes, built once.
struct Tables {
    /// Open-addressing table of positions in [`KEYWORDS`] ([`EMPTY`] when
    /// free), placed by [`slot`]: a keyword is found with a few byte loads
    /// and one comparison, cheaper than a general string hash.
    slots: [u8; SLOTS],
    specs: Vec<Option<Spec>>,
    /// Whether the keyword at each position takes a body of statements.
    bodies: [bool; 256],
    /// Whether the statement at each position can declare a name (itself
    /// or in its body), or adds inheritance: the others are skipped
    /// without a look at their arguments when names are collected.
    declaring: [bool; 256],
}

const SLOTS: usize = 256;
const EMPTY: u8 = u8::MAX;

/// Where the search for `k` (2 to 22 bytes) starts: mixes its length and
/// its first, middle and last bytes, which tell the keywords apart well.
fn slot(k: &[u8]) -> usize {
    let (first, mid, last) = (k[0], k[k.len() / 2], k[k.len() - 1]);
    let x = u32::from(first) | u32::from(mid) << 8 | u32::from(last) << 16 | (k.len() as u32) << 24;
    (x.wrapping_mul(0x9e37_79b1) >> 24) as usize
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut slots = [EMPTY; SLOTS];
        for (i, k) in KEYWORDS.iter().enumerate() {
            let mut at = slot(k.as_bytes());
            while slots[at] != EMPTY {
                at = (at + 1) % SLOTS;
            }
            slots[at] = i as u8;
        }
        let specs: Vec<Option<Spec>> = KEYWORDS.iter().map(|k| spec_of(k)).collect();
        let mut bodies = [false; 256];
        let mut declaring = [false; 256];
        for (i, sp) in specs.iter().enumerate() {
            bodies[i] = sp.is_some_and(|s| s.args.last() == Some(&Arg::Body));
            declaring[i] = sp.is_some_and(|s| s.args.iter().any(|a| matches!(a, Arg::Decl(_) | Arg::Body)))
                || matches!(KEYWORDS[i], "blockinherit" | "classcommon" | "in");
        }
        Tables { slots, specs, bodies, declaring }
    })
}

/// The position of `keyword` in [`KEYWORDS`]. The parser looks each
/// statement's keyword up once and keeps the position in the tree, so the
/// later passes never look a keyword up again.
pub(crate) fn keyword_index(keyword: &str) -> Option<u8> {
    let k = keyword.as_bytes();
    // Every keyword is 2 to 22 bytes.
    if k.len() < 2 || k.len() > 22 {
        return None;
    }
    let t = tables();
    let mut at = slot(k);
    loop {
        let i = t.slots[at];
        let known = KEYWORDS.get(usize::from(i))?.as_bytes();
        // Byte by byte: keywords are short, cheaper than a call to memcmp.
        if known.len() == k.len() && known.iter().zip(k).all(|(a, b)| a == b) {
            return Some(i);
        }
        at = (at + 1) % SLOTS;
    }
}

/// Whether the keyword at position `index` of [`KEYWORDS`] takes a body of
/// statements.
pub(crate) fn has_body(index: u8) -> bool {
    tables().bodies[usize::from(index)]
}

/// Whether the statement at position `index` of [`KEYWORDS`] declares
/// names (directly or in its body) or inherits a template.
pub(crate) fn declaring(index: u8) -> bool {
    tables().declaring[usize::from(index)]
}

/// The shape of the keyword at position `index` of [`KEYWORDS`].
pub(crate) fn spec_at(index: u8) -> Option<Spec> {
    tables().specs.get(index as usize).copied().flatten()
}

fn spec_of(keyword: &str) -> Option<Spec> {
    Some(match keyword {
        "allow" | "auditallow" | "dontaudit" | "neverallow" | "deny" => {
            spec!(3, "SOURCE TARGET (CLASS (PERMISSION ...))", [Ref(Type), Target, ClassPerms])
        }
        "allowx" | "auditallowx" | "dontauditx" | "neverallowx" => {
            spec!(3, "SOURCE TARGET (ioctl CLASS (PERMISSIONX ...))", [Ref(Type), Target, PermX])
        }
        "call" => spec!(1, "MACRO [(ARGUMENT ...)]", [Ref(Macro), List]),
        "macro" => spec!(2, "NAME ((KIND PARAM) ...) STATEMENT ...", [Decl(Macro), Params, Body]),
        "common" => spec!(2, "NAME (PERMISSION ...)", [Decl(Common), PermDecls]),
        "classcommon" => spec!(2, "CLASS COMMON", [Ref(Class), Ref(Common)]),
        "class" => spec!(2, "NAME (PERMISSION ...)", [Decl(Class), PermDecls]),
        "classorder" => spec!(1, "(CLASS ...)", [Order(Class)]),
        "classpermission" => spec!(1, "NAME", [Decl(ClassPermission)]),
        "classpermissionset" => {
            spec!(2, "CLASSPERMISSION (CLASS (PERMISSION ...))", [Ref(ClassPermission), ClassPerms])
        }
        "classmap" => spec!(2, "NAME (PERMISSION ...)", [Decl(Class), PermDecls]),
        "classmapping" => spec!(3, "CLASSMAP PERMISSION (CLASS (PERMISSION ...))", [Ref(Class), Atom, ClassPerms]),
        "permissionx" => spec!(2, "NAME (ioctl CLASS (VALUE ...))", [Decl(PermissionX), List]),
        "boolean" => spec!(2, "NAME true|false", [Decl(Bool), BoolValue]),
        "booleanif" => spec!(2, "CONDITION (true|false STATEMENT ...) ...", [Cond, Body]),
        "tunable" => spec!(2, "NAME true|false", [Decl(Tunable), BoolValue]),
        "tunableif" => spec!(2, "CONDITION (true|false STATEMENT ...) ...", [Cond, Body]),
        "true" | "false" => spec!(0, "STATEMENT ...", [Body]),
        "constrain" | "mlsconstrain" => {
            spec!(2, "(CLASS (PERMISSION ...)) EXPRESSION", [ClassPerms, List])
        }
        "validatetrans" | "mlsvalidatetrans" => spec!(2, "CLASS EXPRESSION", [Ref(Class), List]),
        "block" => spec!(1, "NAME STATEMENT ...", [Decl(Block), Body]),
        "blockabstract" => spec!(1, "NAME", [Ref(Block)]),
        "blockinherit" => spec!(1, "TEMPLATE", [Ref(Block)]),
        "optional" => spec!(1, "NAME STATEMENT ...", [Decl(Block), Body]),
        "in" => spec!(1, "[before|after] BLOCK STATEMENT ...", [Any, Body]),
        "context" => spec!(2, "NAME (USER ROLE TYPE RANGE)", [Decl(Context), Any]),
        "defaultuser" | "defaultrole" | "defaulttype" => {
            spec!(2, "CLASS source|target", [Order(Class), Atom])
        }
        "defaultrange" => spec!(2, "CLASS source|target [low|high|low-high|glblub]", [Order(Class), Atom, Atom]),
        "filecon" => spec!(3, "PATH FILETYPE CONTEXT", [Atom, Atom, Any]),
        "fsuse" => spec!(3, "xattr|task|trans FILESYSTEM CONTEXT", [Atom, Atom, Any]),
        "genfscon" => spec!(3, "FILESYSTEM PATH [FILETYPE] CONTEXT", [Atom, Atom, Any, Any]),
        "ibpkeycon" => spec!(3, "SUBNET PKEY CONTEXT", [Atom, Any, Any]),
        "ibendportcon" => spec!(3, "DEVICE PORT CONTEXT", [Atom, Atom, Any]),
        "sensitivity" => spec!(1, "NAME", [Decl(Sensitivity)]),
        "sensitivityalias" => spec!(1, "NAME", [Decl(Sensitivity)]),
        "sensitivityaliasactual" => {
            spec!(2, "ALIAS SENSITIVITY", [Ref(Sensitivity), Ref(Sensitivity)])
        }
        "sensitivityorder" => spec!(1, "(SENSITIVITY ...)", [Order(Sensitivity)]),
        "category" => spec!(1, "NAME", [Decl(Category)]),
        "categoryalias" => spec!(1, "NAME", [Decl(Category)]),
        "categoryaliasactual" => spec!(2, "ALIAS CATEGORY", [Ref(Category), Ref(Category)]),
        "categoryorder" => spec!(1, "(CATEGORY ...)", [Order(Category)]),
        "categoryset" => spec!(2, "NAME (CATEGORY ...)", [Decl(Category), Any]),
        "sensitivitycategory" => spec!(2, "SENSITIVITY CATEGORIES", [Ref(Sensitivity), Any]),
        "level" => spec!(2, "NAME (SENSITIVITY [CATEGORIES])", [Decl(Level), Any]),
        "levelrange" => spec!(2, "NAME (LOW HIGH)", [Decl(LevelRange), Any]),
        "rangetransition" => spec!(4, "SOURCE TARGET CLASS RANGE", [Ref(Type), Ref(Type), Ref(Class), Any]),
        "ipaddr" => spec!(2, "NAME ADDRESS", [Decl(IpAddr), Atom]),
        "netifcon" => spec!(3, "INTERFACE IF_CONTEXT PACKET_CONTEXT", [Atom, Any, Any]),
        "nodecon" => spec!(3, "ADDRESS MASK CONTEXT", [Any, Any, Any]),
        "portcon" => spec!(3, "PROTOCOL PORT CONTEXT", [Atom, Any, Any]),
        "mls" => spec!(1, "true|false", [BoolValue]),
        "handleunknown" => spec!(1, "allow|deny|reject", [Atom]),
        "policycap" => spec!(1, "NAME", [Decl(PolicyCap)]),
        "role" => spec!(1, "NAME", [Decl(Role)]),
        "roletype" => spec!(2, "ROLE TYPE", [Ref(Role), Set(Type)]),
        "roleattribute" => spec!(1, "NAME", [Decl(Role)]),
        "roleattributeset" => spec!(2, "ROLEATTRIBUTE ROLES", [Ref(Role), Set(Role)]),
        "roleallow" => spec!(2, "SOURCE_ROLE TARGET_ROLE", [Ref(Role), Ref(Role)]),
        "roletransition" => {
            spec!(4, "SOURCE_ROLE TARGET_TYPE CLASS NEW_ROLE", [Ref(Role), Ref(Type), Ref(Class), Ref(Role)])
        }
        "rolebounds" => spec!(2, "PARENT CHILD", [Ref(Role), Ref(Role)]),
        "sid" => spec!(1, "NAME", [Decl(Sid)]),
        "sidorder" => spec!(1, "(SID ...)", [Order(Sid)]),
        "sidcontext" => spec!(2, "SID CONTEXT", [Ref(Sid), Any]),
        "type" => spec!(1, "NAME", [Decl(Type)]),
        "typealias" => spec!(1, "NAME", [Decl(Type)]),
        "typealiasactual" => spec!(2, "ALIAS TYPE", [Ref(Type), Ref(Type)]),
        "typeattribute" => spec!(1, "NAME", [Decl(Type)]),
        "typeattributeset" => spec!(2, "ATTRIBUTE TYPES", [Ref(Type), Set(Type)]),
        "expandtypeattribute" => spec!(2, "ATTRIBUTES true|false", [Set(Type), BoolValue]),
        "typebounds" => spec!(2, "PARENT CHILD", [Ref(Type), Ref(Type)]),
        "typechange" | "typemember" => {
            spec!(4, "SOURCE TARGET CLASS NEW_TYPE", [Ref(Type), Target, Ref(Class), Ref(Type)])
        }
        "typetransition" => {
            spec!(4, "SOURCE TARGET CLASS [\"NAME\"] NEW_TYPE", [Ref(Type), Target, Ref(Class), Atom, Ref(Type)])
        }
        "typepermissive" => spec!(1, "TYPE", [Ref(Type)]),
        "user" => spec!(1, "NAME", [Decl(User)]),
        "userattribute" => spec!(1, "NAME", [Decl(User)]),
        "userattributeset" => spec!(2, "USERATTRIBUTE USERS", [Ref(User), Any]),
        "userrole" => spec!(2, "USER ROLE", [Ref(User), Ref(Role)]),
        "userlevel" => spec!(2, "USER LEVEL", [Ref(User), Any]),
        "userrange" => spec!(2, "USER RANGE", [Ref(User), Any]),
        "userbounds" => spec!(2, "PARENT CHILD", [Ref(User), Ref(User)]),
        "userprefix" => spec!(2, "USER PREFIX", [Ref(User), Atom]),
        "selinuxuser" => spec!(3, "NAME USER RANGE", [Atom, Ref(User), Any]),
        "selinuxuserdefault" => spec!(2, "USER RANGE", [Ref(User), Any]),
        "iomemcon" | "ioportcon" | "pcidevicecon" | "pirqcon" | "devicetreecon" => {
            spec!(2, "VALUE CONTEXT", [Any, Any])
        }
        _ => return None,
    })
}

/// Every keyword, for "did you mean" suggestions.
pub const KEYWORDS: &[&str] = &[
    "allow",
    "auditallow",
    "dontaudit",
    "neverallow",
    "deny",
    "allowx",
    "auditallowx",
    "dontauditx",
    "neverallowx",
    "call",
    "macro",
    "common",
    "classcommon",
    "class",
    "classorder",
    "classpermission",
    "classpermissionset",
    "classmap",
    "classmapping",
    "permissionx",
    "boolean",
    "booleanif",
    "tunable",
    "tunableif",
    "true",
    "false",
    "constrain",
    "mlsconstrain",
    "validatetrans",
    "mlsvalidatetrans",
    "block",
    "blockabstract",
    "blockinherit",
    "optional",
    "in",
    "context",
    "defaultuser",
    "defaultrole",
    "defaulttype",
    "defaultrange",
    "filecon",
    "fsuse",
    "genfscon",
    "ibpkeycon",
    "ibendportcon",
    "sensitivity",
    "sensitivityalias",
    "sensitivityaliasactual",
    "sensitivityorder",
    "category",
    "categoryalias",
    "categoryaliasactual",
    "categoryorder",
    "categoryset",
    "sensitivitycategory",
    "level",
    "levelrange",
    "rangetransition",
    "ipaddr",
    "netifcon",
    "nodecon",
    "portcon",
    "mls",
    "handleunknown",
    "policycap",
    "role",
    "roletype",
    "roleattribute",
    "roleattributeset",
    "roleallow",
    "roletransition",
    "rolebounds",
    "sid",
    "sidorder",
    "sidcontext",
    "type",
    "typealias",
    "typealiasactual",
    "typeattribute",
    "typeattributeset",
    "expandtypeattribute",
    "typebounds",
    "typechange",
    "typemember",
    "typetransition",
    "typepermissive",
    "user",
    "userattribute",
    "userattributeset",
    "userrole",
    "userlevel",
    "userrange",
    "userbounds",
    "userprefix",
    "selinuxuser",
    "selinuxuserdefault",
    "iomemcon",
    "ioportcon",
    "pcidevicecon",
    "pirqcon",
    "devicetreecon",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_keyword_has_a_shape() {
        for k in KEYWORDS {
            assert!(spec(k).is_some(), "{k}");
        }
        for k in ["deny", "in", "true", "devicetreecon"] {
            assert!(KEYWORDS.contains(&k));
        }
        assert!(spec("alow").is_none());
        assert!(KEYWORDS.len() < usize::from(u8::MAX), "keyword positions fit a u8 below the no-keyword mark");
        assert!(KEYWORDS.iter().all(|k| (2..=22).contains(&k.len())));
    }
}
