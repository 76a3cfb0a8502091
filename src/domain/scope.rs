//! Scopes: the permissions a token holds, as a set.

use std::fmt;

/// One permission a token may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Post server-side items and deploys, and upload symbol files.
    PostServerItem,
    /// Post items whose platform is client-side, and nothing else.
    PostClientItem,
    /// Every read (GET) call.
    Read,
    /// Every write (PATCH and DELETE) call.
    Write,
}

impl Scope {
    /// Every scope, in the order the proto enum lists them.
    pub const ALL: [Scope; 4] = [
        Scope::PostServerItem,
        Scope::PostClientItem,
        Scope::Read,
        Scope::Write,
    ];

    /// Returns the scope's wire name, which is also the name of its default token.
    pub fn name(self) -> &'static str {
        match self {
            Scope::PostServerItem => "post_server_item",
            Scope::PostClientItem => "post_client_item",
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Parses a wire name such as `post_server_item`.
    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes. Order and duplicates never matter, so the set is a bitmask; the Redis store
/// keeps the same bitmask.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    /// Bits that correspond to a scope.
    const VALID_BITS: u8 = 0b1111;

    /// Returns the set with no scope.
    pub const fn empty() -> Self {
        ScopeSet(0)
    }

    /// Returns a set from a stored bitmask, or `None` when it has bits that name no scope.
    pub fn from_bits(bits: u8) -> Option<Self> {
        (bits & !Self::VALID_BITS == 0).then_some(ScopeSet(bits))
    }

    /// Returns the bitmask, as stored.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    /// Tells whether the set contains `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Tells whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Iterates the scopes in enum order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    /// Joins the scope names with `separator`, in enum order.
    pub fn join(self, separator: &str) -> String {
        self.iter()
            .map(Scope::name)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        let mut set = ScopeSet::empty();
        for scope in scopes {
            set.insert(scope);
        }
        set
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::from_name(scope.name()), Some(scope));
        }
        assert_eq!(Scope::from_name("POST_SERVER_ITEM"), None);
    }

    #[test]
    fn set_ignores_order_and_duplicates() {
        let a: ScopeSet = [Scope::Write, Scope::Read, Scope::Write]
            .into_iter()
            .collect();
        let b: ScopeSet = [Scope::Read, Scope::Write].into_iter().collect();
        assert_eq!(a, b);
        assert_eq!(a.join(" "), "read write");
    }

    #[test]
    fn from_bits_rejects_unknown_bits() {
        assert_eq!(ScopeSet::from_bits(0b1_0000), None);
        assert_eq!(
            ScopeSet::from_bits(0b1111).map(|set| set.iter().count()),
            Some(4)
        );
    }
}
