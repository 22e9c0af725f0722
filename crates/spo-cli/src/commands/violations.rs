//! `spoc violations [--profile NAME] [--since DURATION]`: the would-be
//! violations of complain-mode profiles (and the logged denials of
//! enforcing ones), summarised per profile and syscall.
//!
//! Events come from the agent's `/violations` endpoint, or from its
//! JSON-lines event log with `--log` (which also works after the agent
//! stopped, and covers more than the endpoint's recent window).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use spo_node::status::AuditEvent;

/// Arguments of `spoc violations`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of the agent's endpoints.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100", conflicts_with = "log")]
    pub node: String,
    /// Read the agent's event log instead (STATE/events.jsonl).
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    /// Only this profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only events this recent: `90s`, `15m`, `2h`, `1d` (a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parse `90s`, `15m`, `2h`, `1d` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("`{s}` is not a duration such as 30s, 15m, 2h or 1d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`: use s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Profile (`-` when the process could not be attributed).
    pub profile: String,
    /// Syscall.
    pub syscall: String,
    /// The action the filter returned.
    pub action: String,
    /// How many events.
    pub count: u64,
    /// Distinct executables.
    pub executables: BTreeSet<String>,
    /// Distinct `namespace/pod/container` (or container ids).
    pub workloads: BTreeSet<String>,
    /// Last event, Unix ms.
    pub last_ms: u64,
}

/// Summarise events per profile, syscall and action, most frequent first.
pub fn summarise(events: &[AuditEvent], profile: Option<&str>, since_ms: u64) -> Vec<Row> {
    let mut rows: BTreeMap<(String, String, String), Row> = BTreeMap::new();
    for e in events {
        if e.time_ms < since_ms || profile.is_some_and(|p| e.profile.as_deref() != Some(p)) {
            continue;
        }
        let p = e.profile.clone().unwrap_or_else(|| "-".into());
        let r = rows.entry((p.clone(), e.syscall.clone(), e.action.clone())).or_insert_with(|| Row {
            profile: p,
            syscall: e.syscall.clone(),
            action: e.action.clone(),
            count: 0,
            executables: BTreeSet::new(),
            workloads: BTreeSet::new(),
            last_ms: 0,
        });
        r.count += 1;
        r.last_ms = r.last_ms.max(e.time_ms);
        r.executables.extend(e.executable.clone().or_else(|| e.comm.clone()));
        if let Some(pod) = &e.pod {
            r.workloads.insert(format!("{}/{}/{}", pod.namespace, pod.pod, pod.container));
        } else if let Some(c) = &e.container_id {
            r.workloads.insert(c.chars().take(12).collect());
        }
    }
    let mut out: Vec<Row> = rows.into_values().collect();
    out.sort_by(|a, b| a.profile.cmp(&b.profile).then(b.count.cmp(&a.count)).then(a.syscall.cmp(&b.syscall)));
    out
}

fn events(args: &Args) -> Result<Vec<AuditEvent>> {
    if let Some(log) = &args.log {
        let text = crate::input::read(log)?;
        // A line cut short by a crash is skipped, not fatal.
        return Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect());
    }
    let (code, body) = spo_node::http::get(&args.node, "/violations")?;
    if code != 200 {
        bail!("the agent at {} answered {code}: {}", args.node, body.trim());
    }
    serde_json::from_str(&body).with_context(|| format!("the agent at {} sent invalid events", args.node))
}

/// Fetch, summarise and print.
pub fn main(args: &Args) -> Result<u8> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let since_ms = args.since.map_or(0, |d| now_ms.saturating_sub(d.as_millis() as u64));
    let rows = summarise(&events(args)?, args.profile.as_deref(), since_ms);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no violations");
        return Ok(0);
    }
    let head = ["PROFILE", "SYSCALL", "ACTION", "COUNT", "LAST", "EXECUTABLES", "WORKLOADS"];
    let mut table: Vec<Vec<String>> = vec![head.map(str::to_owned).to_vec()];
    for r in &rows {
        let ago = now_ms.saturating_sub(r.last_ms) / 1000;
        table.push(vec![
            r.profile.clone(),
            r.syscall.clone(),
            r.action.clone(),
            r.count.to_string(),
            format!("{ago}s ago"),
            r.executables.iter().cloned().collect::<Vec<_>>().join(","),
            r.workloads.iter().cloned().collect::<Vec<_>>().join(","),
        ]);
    }
    let widths: Vec<usize> =
        (0..head.len()).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for r in &table {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spo_node::status::PodRef;

    fn ev(profile: Option<&str>, syscall: &str, t: u64) -> AuditEvent {
        AuditEvent {
            time_ms: t,
            serial: t,
            node: "n".into(),
            pid: 1,
            comm: Some("sh".into()),
            executable: Some("/bin/sh".into()),
            syscall: syscall.into(),
            syscall_nr: 0,
            arch: "SCMP_ARCH_X86_64".into(),
            action: "SCMP_ACT_LOG".into(),
            container_id: None,
            pod: profile.map(|_| PodRef { namespace: "ns".into(), pod: "p".into(), container: "c".into() }),
            profile: profile.map(str::to_owned),
            lsm: None,
        }
    }

    #[test]
    fn summaries_count_per_profile_and_syscall() {
        let evs = [
            ev(Some("a"), "mkdir", 10),
            ev(Some("a"), "mkdir", 20),
            ev(Some("a"), "umask", 30),
            ev(None, "ptrace", 40),
        ];
        let rows = summarise(&evs, None, 0);
        let flat: Vec<_> = rows.iter().map(|r| (r.profile.as_str(), r.syscall.as_str(), r.count)).collect();
        assert_eq!(flat, [("-", "ptrace", 1), ("a", "mkdir", 2), ("a", "umask", 1)]);
        assert_eq!(rows[1].last_ms, 20);
        assert!(rows[1].workloads.contains("ns/p/c"));
        assert_eq!(summarise(&evs, Some("a"), 25).len(), 1);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("m").is_err());
    }
}
