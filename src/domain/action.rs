//! Actions a request can ask for, and the scope each one requires.

use super::scope::Scope;

/// An operation that a request performs with a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Post an item; the required scope depends on the item's platform.
    PostItem,
    /// Post a deploy.
    PostDeploy,
    /// Upload a JavaScript source map.
    UploadSourceMap,
    /// Upload a ProGuard mapping file.
    UploadProguardMapping,
    /// Upload a dSYM file.
    UploadDsym,
    /// Upload Flutter symbols.
    UploadFlutterSymbols,
    /// Any read (GET) call.
    Read,
    /// Any write (PATCH or DELETE) call.
    Write,
}

/// The item platforms that count as client-side. They are compared exactly, so `Browser` or
/// `linux` are server-side.
pub const CLIENT_PLATFORMS: [&str; 5] = ["browser", "android", "ios", "flash", "client"];

/// Tells whether an item platform is client-side. A missing platform is server-side.
pub fn is_client_platform(platform: &str) -> bool {
    CLIENT_PLATFORMS.contains(&platform)
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 8] = [
        Action::PostItem,
        Action::PostDeploy,
        Action::UploadSourceMap,
        Action::UploadProguardMapping,
        Action::UploadDsym,
        Action::UploadFlutterSymbols,
        Action::Read,
        Action::Write,
    ];

    /// Returns the scope a token needs for this action. `platform` matters only for
    /// [`Action::PostItem`]: a client-side item needs `post_client_item` and any other item needs
    /// `post_server_item`.
    pub fn required_scope(self, platform: &str) -> Scope {
        match self {
            Action::PostItem if is_client_platform(platform) => Scope::PostClientItem,
            Action::PostItem
            | Action::PostDeploy
            | Action::UploadSourceMap
            | Action::UploadProguardMapping
            | Action::UploadDsym
            | Action::UploadFlutterSymbols => Scope::PostServerItem,
            Action::Read => Scope::Read,
            Action::Write => Scope::Write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_item_follows_platform() {
        for platform in CLIENT_PLATFORMS {
            assert_eq!(
                Action::PostItem.required_scope(platform),
                Scope::PostClientItem
            );
        }
        for platform in [
            "", "linux", "macos", "darwin", "windows", "Browser", "python",
        ] {
            assert_eq!(
                Action::PostItem.required_scope(platform),
                Scope::PostServerItem
            );
        }
    }

    #[test]
    fn other_actions_ignore_platform() {
        assert_eq!(
            Action::PostDeploy.required_scope("browser"),
            Scope::PostServerItem
        );
        assert_eq!(
            Action::UploadDsym.required_scope("ios"),
            Scope::PostServerItem
        );
        assert_eq!(Action::Read.required_scope("browser"), Scope::Read);
        assert_eq!(Action::Write.required_scope(""), Scope::Write);
    }
}
