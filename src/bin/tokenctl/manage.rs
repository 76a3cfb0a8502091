//! The project, account and token commands, each one Manage call (or one per page for
//! `token list --all`).

use serde::Serialize;
use serde_json::json;
use token_authority::proto::v1::{
    self as pb, manage_request::Operation, manage_response::Result as ManageResult,
};

use crate::{
    cli::{
        AccountCommand, ProjectCommand, TokenCommand, TokenCreateArgs, TokenListArgs, TokenRefArgs,
        TokenUpdateArgs,
    },
    client::Session,
    error::CliError,
    output::{
        self, IssuedTokenView, Report, TokenView, issued_table, keys_shown_once, tokens_table,
    },
    values::scope_to_proto,
};

/// The maximum number of pages `token list --all` fetches, so a server that keeps returning a page token
/// cannot loop forever: 10,000 pages of up to 1000 tokens.
const MAX_PAGES: usize = 10_000;

/// Runs a project command.
pub async fn project(session: &Session, command: ProjectCommand) -> Result<Report, CliError> {
    match command {
        ProjectCommand::Create {
            account,
            project,
            name,
        } => {
            let operation = Operation::CreateProject(pb::CreateProjectOperation {
                account_id: account,
                project_id: project,
                name,
            });
            let ManageResult::CreateProject(created) =
                session.manage("project create", operation).await?
            else {
                return Err(mismatched("project create"));
            };
            let project = created.project.unwrap_or_default();

            #[derive(Serialize)]
            struct ProjectView {
                project_id: String,
                account_id: String,
                name: String,
                created_at: Option<String>,
            }
            let view = json!({
                "project": ProjectView {
                    project_id: project.project_id.clone(),
                    account_id: project.account_id.clone(),
                    name: project.name.clone(),
                    created_at: project.created_at.map(|time| output::rfc3339(&time)),
                },
                "tokens": created.tokens.iter().map(IssuedTokenView::from_proto).collect::<Vec<_>>(),
            });
            let table = format!(
                "Created project {} ({}) in account {} with {}:\n\n{}",
                project.project_id,
                project.name,
                project.account_id,
                output::count(created.tokens.len() as i64, "token", "tokens"),
                issued_table(&created.tokens)
            );
            Ok(Report::new(&view, table).with_note(keys_shown_once(created.tokens.len())))
        }
        ProjectCommand::Delete { project } => {
            let operation = Operation::DeleteProject(pb::DeleteProjectOperation {
                project_id: project.clone(),
            });
            let ManageResult::DeleteProject(deleted) =
                session.manage("project delete", operation).await?
            else {
                return Err(mismatched("project delete"));
            };
            let view = json!({
                "project_id": project,
                "deleted_token_count": deleted.deleted_token_count,
            });
            let table = format!(
                "Deleted project {project} and {}.\n",
                output::count(deleted.deleted_token_count, "token", "tokens")
            );
            Ok(Report::new(&view, table))
        }
    }
}

/// Runs an account command.
pub async fn account(session: &Session, command: AccountCommand) -> Result<Report, CliError> {
    let AccountCommand::SetPlan { account, plan } = command;
    let operation = Operation::SetAccountPlan(pb::SetAccountPlanOperation {
        account_id: account,
        plan: plan.to_proto() as i32,
    });
    let ManageResult::SetAccountPlan(result) =
        session.manage("account set-plan", operation).await?
    else {
        return Err(mismatched("account set-plan"));
    };
    let account = result.account.unwrap_or_default();
    let plan = output::plan_name(account.plan);
    let view = json!({ "account_id": account.account_id, "plan": plan });
    let table = format!("Account {} is on the {plan} plan.\n", account.account_id);
    Ok(Report::new(&view, table))
}

/// Runs a token command.
pub async fn token(session: &Session, command: TokenCommand) -> Result<Report, CliError> {
    match command {
        TokenCommand::Create(args) => create_token(session, args).await,
        TokenCommand::Get(args) => {
            let operation = Operation::GetToken(pb::GetTokenOperation {
                token: Some(token_ref(&args)),
            });
            match session.manage("token get", operation).await? {
                ManageResult::GetToken(result) => Ok(token_report(result.token)),
                _ => Err(mismatched("token get")),
            }
        }
        TokenCommand::List(args) => list_tokens(session, args).await,
        TokenCommand::Update(args) => update_token(session, args).await,
        TokenCommand::Expire(args) => {
            let operation = Operation::ExpireToken(pb::ExpireTokenOperation {
                token: Some(token_ref(&args)),
            });
            match session.manage("token expire", operation).await? {
                ManageResult::ExpireToken(result) => Ok(token_report(result.token)),
                _ => Err(mismatched("token expire")),
            }
        }
        TokenCommand::Delete(args) => {
            let operation = Operation::DeleteToken(pb::DeleteTokenOperation {
                token: Some(token_ref(&args)),
            });
            let ManageResult::DeleteToken(_) = session.manage("token delete", operation).await?
            else {
                return Err(mismatched("token delete"));
            };
            let view = json!({
                "project_id": args.project,
                "token_id": args.token,
                "deleted": true,
            });
            let table = format!(
                "Deleted token {} of project {}. Its key no longer works.\n",
                args.token, args.project
            );
            Ok(Report::new(&view, table))
        }
    }
}

async fn create_token(session: &Session, args: TokenCreateArgs) -> Result<Report, CliError> {
    let operation = Operation::CreateToken(pb::CreateTokenOperation {
        project_id: args.project,
        name: args.name,
        scopes: args
            .scopes
            .into_iter()
            .map(|scope| scope_to_proto(scope) as i32)
            .collect(),
        rate_limit: args.rate_limit.map(|limit| limit.to_proto()),
        expires_at: args.expires_at,
    });
    let ManageResult::CreateToken(result) = session.manage("token create", operation).await? else {
        return Err(mismatched("token create"));
    };
    let issued = result.token.unwrap_or_default();
    let view = json!({ "token": IssuedTokenView::from_proto(&issued) });
    let table = issued_table(std::slice::from_ref(&issued));
    Ok(Report::new(&view, table).with_note(keys_shown_once(1)))
}

async fn list_tokens(session: &Session, args: TokenListArgs) -> Result<Report, CliError> {
    let mut tokens = Vec::new();
    let mut page_token = args.page_token.unwrap_or_default();
    for _ in 0..MAX_PAGES {
        let operation = Operation::ListTokens(pb::ListTokensOperation {
            project_id: args.project.clone(),
            status: args.status.map_or(0, |status| status.to_proto() as i32),
            page_size: args.page_size.unwrap_or(0),
            page_token: page_token.clone(),
        });
        let ManageResult::ListTokens(page) = session.manage("token list", operation).await? else {
            return Err(mismatched("token list"));
        };
        tokens.extend(page.tokens);
        // A page token equal to the one just sent would repeat the same page forever.
        let repeated = page.next_page_token == page_token;
        page_token = page.next_page_token;
        if !args.all || page_token.is_empty() || repeated {
            break;
        }
    }

    let view = json!({
        "tokens": tokens.iter().map(TokenView::from_proto).collect::<Vec<_>>(),
        "next_page_token": page_token,
    });
    let table = if tokens.is_empty() {
        format!("No tokens in project {} match.\n", args.project)
    } else {
        tokens_table(&tokens)
    };
    let mut report = Report::new(&view, table);
    if !page_token.is_empty() {
        report = report.with_note(format!(
            "More tokens follow: pass --page-token {page_token} for the next page, or --all."
        ));
    }
    Ok(report)
}

async fn update_token(session: &Session, args: TokenUpdateArgs) -> Result<Report, CliError> {
    // Each option given adds its field to the mask, so the server changes exactly those.
    let mut update = pb::TokenUpdate::default();
    let mut paths = Vec::new();
    if let Some(name) = args.name {
        update.name = name;
        paths.push("name");
    }
    if !args.scopes.is_empty() {
        update.scopes = args
            .scopes
            .into_iter()
            .map(|scope| scope_to_proto(scope) as i32)
            .collect();
        paths.push("scopes");
    }
    if args.enable || args.disable {
        update.status = if args.enable {
            pb::TokenStatus::Enabled
        } else {
            pb::TokenStatus::Disabled
        } as i32;
        paths.push("status");
    }
    if args.rate_limit.is_some() || args.clear_rate_limit {
        // An unset limit clears it.
        update.rate_limit = args.rate_limit.map(|limit| limit.to_proto());
        paths.push("rate_limit");
    }
    if args.expires_at.is_some() || args.clear_expires_at {
        // An unset expiry clears it.
        update.expires_at = args.expires_at;
        paths.push("expires_at");
    }

    let operation = Operation::UpdateToken(pb::UpdateTokenOperation {
        token: Some(token_ref(&args.token)),
        update: Some(update),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.into_iter().map(str::to_owned).collect(),
        }),
    });
    match session.manage("token update", operation).await? {
        ManageResult::UpdateToken(result) => Ok(token_report(result.token)),
        _ => Err(mismatched("token update")),
    }
}

/// Builds the report of a reply that carries one token.
fn token_report(token: Option<pb::Token>) -> Report {
    let token = token.unwrap_or_default();
    let view = json!({ "token": TokenView::from_proto(&token) });
    Report::new(&view, output::token_details(&token))
}

fn token_ref(args: &TokenRefArgs) -> pb::TokenRef {
    pb::TokenRef {
        project_id: args.project.clone(),
        token_id: args.token.clone(),
    }
}

/// The error for a reply whose result is not the one the operation returns.
fn mismatched(operation: &'static str) -> CliError {
    CliError::IncompleteReply {
        operation,
        missing: "result for this operation",
    }
}
