//! The generations on a target, and the retention policy that decides which to keep
//! (grandfather-father-son: the newest of each of the last N days, weeks and months).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{BackupError, Result};
use crate::manifest::{self, Manifest};
use crate::target::{Deleted, Target};

/// One generation as found on the target.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub id: String,
    /// Its manifest; `None` for an incomplete generation (interrupted before the manifest).
    pub manifest: Option<Manifest>,
    /// Why the manifest could not be read, when it exists but is broken.
    pub problem: Option<String>,
}

/// Every generation on `target`, oldest first.
pub async fn list(target: &dyn Target) -> Result<Vec<Generation>> {
    let mut ids = BTreeSet::new();
    for key in target.list("generations/").await? {
        if let Some(id) = key.strip_prefix("generations/").and_then(|rest| rest.split('/').next()) {
            ids.insert(id.to_string());
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let (manifest, problem) = match target.get_bytes(&manifest::generation_key(&id, "manifest.json")).await? {
            None => (None, None),
            Some(bytes) => match Manifest::parse(&bytes) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        out.push(Generation { id, manifest, problem });
    }
    Ok(out)
}

/// The newest complete generation's manifest.
pub async fn latest_complete(target: &dyn Target) -> Result<Option<Manifest>> {
    Ok(list(target).await?.into_iter().rev().find_map(|g| g.manifest))
}

/// How many generations to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { daily: 7, weekly: 4, monthly: 12 }
    }
}

/// Which of the complete generations (id, creation time) to keep: the newest of each of the last
/// `daily` days, `weekly` ISO weeks and `monthly` months that have one, and always the newest.
pub fn keep(generations: &[(String, OffsetDateTime)], policy: Retention) -> BTreeSet<String> {
    let mut newest_first: Vec<&(String, OffsetDateTime)> = generations.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let mut kept = BTreeSet::new();
    if let Some((id, _)) = newest_first.first() {
        kept.insert(id.clone());
    }
    let mut bucketed = |limit: u32, bucket: &dyn Fn(OffsetDateTime) -> (i32, u32)| {
        let mut seen: BTreeMap<(i32, u32), ()> = BTreeMap::new();
        for (id, at) in &newest_first {
            if seen.len() as u32 >= limit {
                break;
            }
            let b = bucket(*at);
            if seen.insert(b, ()).is_none() {
                kept.insert(id.clone());
            }
        }
    };
    bucketed(policy.daily, &|at| (at.year(), u32::from(at.ordinal())));
    bucketed(policy.weekly, &|at| {
        let (year, week, _) = at.to_iso_week_date();
        (year, u32::from(week))
    });
    bucketed(policy.monthly, &|at| (at.year(), u32::from(u8::from(at.month()))));
    kept
}

/// What pruning did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PruneReport {
    pub kept: Vec<String>,
    pub removed: Vec<String>,
    /// Objects the target refused to delete (write-once until their retention ends).
    pub locked: Vec<String>,
    pub removed_files: u64,
    /// Unreferenced files were left alone because a backup may be running.
    pub files_skipped: bool,
}

/// Removes the generations the policy does not keep, incomplete ones older than a day, and files
/// no kept generation refers to. The manifest goes first, so a half-removed generation reads as
/// incomplete rather than as a damaged backup.
pub async fn prune(target: &dyn Target, policy: Retention, now: OffsetDateTime) -> Result<PruneReport> {
    let all = list(target).await?;
    // A manifest that cannot be read might be a newer kiroku's: never judge its files unreferenced.
    if let Some(g) = all.iter().find(|g| g.problem.is_some()) {
        return Err(BackupError::Format(format!(
            "generation {} has a manifest this kiroku cannot read ({}); nothing was pruned",
            g.id,
            g.problem.as_deref().unwrap_or_default()
        )));
    }
    let complete: Vec<(String, OffsetDateTime)> =
        all.iter().filter_map(|g| g.manifest.as_ref().and_then(|m| m.created_at().ok().map(|at| (g.id.clone(), at)))).collect();
    let kept = keep(&complete, policy);
    let mut report = PruneReport { kept: kept.iter().cloned().collect(), ..Default::default() };
    let stale_after = now - time::Duration::days(1);
    for g in &all {
        let remove = match &g.manifest {
            Some(_) => !kept.contains(&g.id),
            None => generation_time(&g.id).is_some_and(|t| t < stale_after),
        };
        if !remove {
            continue;
        }
        let prefix = manifest::generation_prefix(&g.id);
        let mut keys = target.list(&prefix).await?;
        keys.sort_by_key(|k| !k.ends_with("manifest.json"));
        let mut all_gone = true;
        for key in keys {
            if let Deleted::Locked(why) = target.delete(&key).await? {
                report.locked.push(format!("{key}: {why}"));
                all_gone = false;
            }
        }
        if all_gone {
            report.removed.push(g.id.clone());
        }
    }
    // A backup may be running (its generation has no manifest yet, but its files are being stored):
    // files are only cleaned up when no recent generation is unfinished, and never without a kept one.
    let running = all.iter().any(|g| g.manifest.is_none() && generation_time(&g.id).is_none_or(|t| t >= stale_after));
    if running || kept.is_empty() {
        report.files_skipped = true;
        return Ok(report);
    }
    let referenced: BTreeSet<String> = all
        .iter()
        .filter(|g| kept.contains(&g.id))
        .filter_map(|g| g.manifest.as_ref())
        .flat_map(|m| m.blobs.iter().map(|b| b.key.clone()))
        .collect();
    for key in target.list("blobs/").await? {
        if referenced.contains(&key) {
            continue;
        }
        match target.delete(&key).await? {
            Deleted::Yes => report.removed_files += 1,
            Deleted::Locked(why) => report.locked.push(format!("{key}: {why}")),
        }
    }
    Ok(report)
}

/// The start time a generation's name encodes.
pub fn generation_time(id: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:3]Z");
    time::PrimitiveDateTime::parse(id, &format).ok().map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn grandfather_father_son() {
        // One backup a day for 120 days.
        let start = datetime!(2026-01-01 02:00 UTC);
        let gens: Vec<(String, OffsetDateTime)> =
            (0..120).map(|d| start + time::Duration::days(d)).map(|t| (manifest::generation_id(t), t)).collect();
        let kept = keep(&gens, Retention { daily: 7, weekly: 4, monthly: 3 });
        let newest = &gens[119].0;
        assert!(kept.contains(newest));
        // 7 days, the older weeks' newest (3 more), and the months' newest not already kept.
        assert!(kept.len() >= 7 && kept.len() <= 7 + 4 + 3, "{kept:?}");
        for (id, _) in &gens[113..] {
            assert!(kept.contains(id), "the last 7 days are kept");
        }
        assert!(!kept.contains(&gens[0].0), "January 1st is beyond every bucket");
        assert!(kept.contains(&manifest::generation_id(datetime!(2026-03-31 02:00 UTC))), "end of March is March's newest");
        assert_eq!(generation_time(newest), Some(gens[119].1));
    }

    #[test]
    fn nothing_but_the_newest_with_a_zero_policy() {
        let t = datetime!(2026-11-25 00:00 UTC);
        let gens = vec![("a".to_string(), t), ("b".to_string(), t + time::Duration::hours(1))];
        assert_eq!(keep(&gens, Retention { daily: 0, weekly: 0, monthly: 0 }), BTreeSet::from(["b".to_string()]));
    }
}
