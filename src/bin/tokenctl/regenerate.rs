//! The regenerate commands, and the owner-only CSV file that receives an account's new keys.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use serde_json::json;
use token_authority::proto::v1::{self as pb, regenerate_request::Target};

use crate::{
    cli::RegenerateCommand,
    client::Session,
    error::CliError,
    output::{IssuedTokenView, Report, TokenView, columns, count, issued_table, keys_shown_once},
};

/// Runs a regenerate command.
pub async fn regenerate(session: &Session, command: RegenerateCommand) -> Result<Report, CliError> {
    match command {
        RegenerateCommand::Token(args) => {
            let target = Target::Token(pb::TokenRef {
                project_id: args.project,
                token_id: args.token,
            });
            let reply = session.regenerate("regenerate token", target).await?;
            let Some(issued) = reply.tokens.first() else {
                return Err(CliError::IncompleteReply {
                    operation: "regenerate token",
                    missing: "token",
                });
            };
            let view = json!({ "token": IssuedTokenView::from_proto(issued) });
            let table = issued_table(std::slice::from_ref(issued));
            Ok(Report::new(&view, table).with_note(keys_shown_once(1)))
        }
        RegenerateCommand::Project { project } => {
            let target = Target::ProjectId(project.clone());
            let reply = session.regenerate("regenerate project", target).await?;
            let view = json!({
                "project_id": project,
                "tokens": reply.tokens.iter().map(IssuedTokenView::from_proto).collect::<Vec<_>>(),
            });
            if reply.tokens.is_empty() {
                let table =
                    format!("No expired tokens in project {project}: nothing was regenerated.\n");
                return Ok(Report::new(&view, table));
            }
            let table = format!(
                "Regenerated {} of project {project}:\n\n{}",
                count(reply.tokens.len() as i64, "expired token", "expired tokens"),
                issued_table(&reply.tokens)
            );
            Ok(Report::new(&view, table).with_note(keys_shown_once(reply.tokens.len())))
        }
        RegenerateCommand::Account {
            account,
            csv,
            force,
        } => regenerate_account(session, account, &csv, force).await,
    }
}

/// Regenerates an account's expired tokens and writes the reply's CSV to `path`.
///
/// The file is created before the call, because the keys exist only in the reply: a file that
/// cannot be created must stop the command before any key changes.
async fn regenerate_account(
    session: &Session,
    account: String,
    path: &Path,
    force: bool,
) -> Result<Report, CliError> {
    let target_file = CsvFile::create(path, force)?;
    let reply = match session
        .regenerate("regenerate account", Target::AccountId(account.clone()))
        .await
    {
        Ok(reply) => reply,
        Err(error) => {
            target_file.discard();
            return Err(error);
        }
    };
    let tokens: Vec<pb::Token> = reply
        .tokens
        .iter()
        .map(|issued| issued.token.clone().unwrap_or_default())
        .collect();

    // With nothing regenerated the CSV has only its header: leave any existing file alone,
    // since it may hold the keys of an earlier run.
    if tokens.is_empty() {
        target_file.discard();
        let view = json!({
            "account_id": account,
            "csv_file": null,
            "project_count": 0,
            "token_count": 0,
            "tokens": [],
        });
        let table = format!(
            "No expired tokens in account {account}: nothing was regenerated and no file was \
             written.\n"
        );
        return Ok(Report::new(&view, table));
    }

    if let Err(source) = target_file.finish(reply.csv.as_bytes()) {
        return Err(CliError::KeysNotSaved {
            path: path.to_owned(),
            tokens: tokens
                .iter()
                .map(|token| (token.project_id.clone(), token.token_id.clone()))
                .collect(),
            source,
        });
    }

    let view = json!({
        "account_id": account,
        "csv_file": path.display().to_string(),
        "project_count": reply.project_count,
        "token_count": tokens.len(),
        "tokens": tokens.iter().map(TokenView::from_proto).collect::<Vec<_>>(),
    });
    let rows = tokens
        .iter()
        .map(|token| {
            vec![
                token.project_id.clone(),
                token.token_id.clone(),
                token.name.clone(),
            ]
        })
        .collect();
    let table = format!(
        "Regenerated {} in {} of account {account}.\nWrote their new keys to {} (mode 0600).\n\n{}",
        count(tokens.len() as i64, "expired token", "expired tokens"),
        count(reply.project_count, "project", "projects"),
        path.display(),
        columns(&["PROJECT", "TOKEN ID", "NAME"], rows)
    );
    let note = format!(
        "The new keys are only in {}: they are shown only once. Keep the file private and delete \
         it once the keys are handed out.",
        path.display()
    );
    Ok(Report::new(&view, table).with_note(note))
}

/// A CSV file created with mode 0600 that receives the keys.
///
/// Without --force it is the target itself, created exclusively so an existing file is never
/// touched. With --force it is a new file beside the target, renamed over it once written: the
/// target then has mode 0600 even if the old file had wider permissions.
struct CsvFile {
    file: File,
    /// The path the file was created at.
    written: PathBuf,
    /// The final path, which differs from `written` only with --force.
    target: PathBuf,
}

impl CsvFile {
    fn create(target: &Path, force: bool) -> Result<Self, CliError> {
        let file_error = |action, source| CliError::File {
            action,
            path: target.to_owned(),
            source,
        };
        if target.is_dir() {
            return Err(file_error(
                "create",
                io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
            ));
        }

        let written = if force {
            let name = target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            target.with_file_name(format!(".{name}.tokenctl-{}.tmp", std::process::id()))
        } else {
            target.to_owned()
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&written)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists if !force => CliError::FileExists {
                    path: target.to_owned(),
                },
                _ => file_error("create", source),
            })?;
        Ok(CsvFile {
            file,
            written,
            target: target.to_owned(),
        })
    }

    /// Writes the contents, flushes them to disk, and moves the file to its target.
    fn finish(mut self, contents: &[u8]) -> io::Result<()> {
        let result = self
            .file
            .write_all(contents)
            .and_then(|()| self.file.sync_all())
            .and_then(|()| {
                if self.written == self.target {
                    Ok(())
                } else {
                    fs::rename(&self.written, &self.target)
                }
            });
        if result.is_err() && self.written != self.target {
            let _ = fs::remove_file(&self.written);
        }
        result
    }

    /// Removes the file created for the keys, when there are none to write.
    fn discard(self) {
        let _ = fs::remove_file(&self.written);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn csv_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.csv");
        CsvFile::create(&path, false)
            .unwrap()
            .finish(b"a,b\n")
            .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"a,b\n");
    }

    #[test]
    fn csv_file_keeps_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.csv");
        fs::write(&path, "old").unwrap();
        let error = CsvFile::create(&path, false).err().unwrap();
        assert!(matches!(error, CliError::FileExists { .. }), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn csv_file_force_replaces_with_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.csv");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        CsvFile::create(&path, true)
            .unwrap()
            .finish(b"new\n")
            .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
