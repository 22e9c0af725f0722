//! `spoc status [--node ADDR]`: what the node agent says about every
//! profile and every verified process, as a table (or the raw JSON).
//!
//! Exit status 0 when every profile is fine, 1 when a profile is in Error
//! or a manifest has problems, so scripts can gate on it.

use anyhow::{bail, Context, Result};
use spo_node::status::{NodeStatus, Phase, ProblemReport};

/// Arguments of `spoc status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of the agent's endpoints.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    pub node: String,
    /// Print the agent's JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Fetch and render the status.
pub fn main(args: &Args) -> Result<u8> {
    let (code, body) = spo_node::http::get(&args.node, "/status")?;
    if code != 200 {
        bail!("the agent at {} answered {code}: {}", args.node, body.trim());
    }
    let status: NodeStatus =
        serde_json::from_str(&body).with_context(|| format!("the agent at {} sent invalid status", args.node))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status));
    }
    let bad = status.profiles.iter().any(|p| p.status == Phase::Error) || !status.file_errors.is_empty();
    Ok(u8::from(bad))
}

fn short(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".to_owned(), |h| h.chars().take(12).collect())
}

fn problem(p: &ProblemReport) -> String {
    match &p.location {
        Some(l) => format!("{}:{}:{}: {}", l.file.display(), l.line, l.column, p.message),
        None => p.message.clone(),
    }
}

/// Left-aligned columns, the last one unpadded.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The status as text tables.
pub fn render(s: &NodeStatus) -> String {
    let mut out = format!(
        "node {} ({}), manifests {}\n\n",
        s.node,
        if s.ready { "ready" } else { "scanning" },
        s.manifests.display()
    );
    let mut rows = vec![["KIND", "NAME", "STATUS", "MODE", "VERSION", "IN USE", "REFERENCE", "MESSAGE"]
        .map(str::to_owned)
        .to_vec()];
    for p in &s.profiles {
        let reference = p
            .localhost_profile
            .clone()
            .or_else(|| p.path.as_ref().map(|x| x.display().to_string()))
            .unwrap_or_else(|| "-".into());
        let message = p.errors.first().map(problem).or_else(|| p.message.clone()).unwrap_or_default();
        rows.push(vec![
            p.kind.as_str().to_owned(),
            p.name.clone(),
            p.status.as_str().to_owned(),
            format!("{:?}", p.mode).to_lowercase(),
            short(&p.version),
            p.in_use_by.to_string(),
            reference,
            message,
        ]);
    }
    if s.profiles.is_empty() {
        out.push_str("no profiles\n");
    } else {
        out.push_str(&table(&rows));
    }
    for p in &s.profiles {
        for e in p.errors.iter().skip(1) {
            out.push_str(&format!("  {}: {}\n", p.name, problem(e)));
        }
    }
    for e in &s.file_errors {
        out.push_str(&format!("manifest problem: {}\n", problem(e)));
    }
    if !s.processes.is_empty() {
        out.push('\n');
        let mut rows = vec![["PID", "COMM", "CONTAINER", "POD", "PROFILE", "SECCOMP", "SELINUX", "APPARMOR", "OK"]
            .map(str::to_owned)
            .to_vec()];
        for p in &s.processes {
            rows.push(vec![
                p.pid.to_string(),
                p.comm.clone(),
                p.container_id.as_deref().map_or("-".into(), |c| c.chars().take(12).collect()),
                p.pod.as_ref().map_or("-".into(), |x| format!("{}/{}/{}", x.namespace, x.pod, x.container)),
                p.profile.clone().unwrap_or_else(|| "-".into()),
                format!("mode {} ({} filters)", p.seccomp_mode, p.seccomp_filters),
                p.selinux_label.clone().unwrap_or_else(|| "-".into()),
                p.apparmor_label.clone().unwrap_or_else(|| "-".into()),
                if p.ok { "yes".into() } else { format!("NO: {}", p.problems.join("; ")) },
            ]);
        }
        out.push_str(&table(&rows));
    }
    let e = &s.enricher;
    out.push_str(&format!(
        "\naudit: source {}, {} records, {} seccomp events, {} lost{}\n",
        e.source,
        e.records,
        e.events,
        e.lost,
        e.error.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::status::{Location, Mode, ProfileKind, ProfileStatus};

    #[test]
    fn errors_show_their_location() {
        let mut s = NodeStatus { node: "n1".into(), ready: true, ..NodeStatus::default() };
        s.profiles.push(ProfileStatus {
            kind: ProfileKind::SeccompProfile,
            name: "web".into(),
            status: Phase::Error,
            mode: Mode::Complain,
            source: None,
            version: Some("0123456789abcdef".into()),
            path: None,
            localhost_profile: Some("operator/web.json".into()),
            errors: vec![ProblemReport {
                location: Some(Location { file: "m/web.yaml".into(), line: 12, column: 7 }),
                message: "unknown syscall `mkdirr`".into(),
                help: None,
            }],
            message: None,
            in_use_by: 2,
            updated: 0,
        });
        let text = render(&s);
        assert!(text.contains("web"), "{text}");
        assert!(text.contains("Error"), "{text}");
        assert!(text.contains("0123456789ab "), "{text}");
        assert!(text.contains("m/web.yaml:12:7: unknown syscall `mkdirr`"), "{text}");
        assert!(text.contains("complain"), "{text}");
    }
}
