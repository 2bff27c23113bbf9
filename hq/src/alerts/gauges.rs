//! Gauges for sites that alert with Prometheus and Alertmanager instead (see
//! `docs/prometheus-alerts.yml`): per site, the signed-in agents and how many of them are not
//! ready, the open incidents of signed-in agents by name (and network ones beyond the home), and
//! HQ's own open alerts by rule. Read from the database at each scrape, as the fleet gauges are,
//! so every HQ process reports the same numbers.

use crate::db::Db;
use std::collections::BTreeMap;
use std::fmt::Write;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the gauges in the Prometheus text format.
pub async fn render(db: &Db, out: &mut String) -> anyhow::Result<()> {
    let now = crate::db::now_ms();
    let mut signed = Vec::new();
    let mut incidents: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut beyond: Vec<(String, i64)> = Vec::new();
    for (site, _) in db.sites().await? {
        let agents = super::engine::snapshot(db, &site, now).await?;
        let on: Vec<_> = agents.iter().filter(|a| a.signed_in).collect();
        signed.push((
            site.clone(),
            on.len(),
            on.iter().filter(|a| a.not_ready).count(),
        ));
        let mut b = 0;
        for a in &on {
            for i in &a.incidents {
                *incidents.entry((site.clone(), i.name.clone())).or_default() += 1;
                if i.name == super::rules::NETWORK_DEGRADED
                    && i.scope.as_deref() == Some(super::rules::BEYOND_HOME)
                {
                    b += 1;
                }
            }
        }
        for name in ["headset_gone", "network_degraded"] {
            incidents.entry((site.clone(), name.into())).or_default();
        }
        beyond.push((site, b));
    }
    out.push_str(
        "# HELP shiftready_site_signed_in Agents signed in to a shift now, by site.\n\
         # TYPE shiftready_site_signed_in gauge\n",
    );
    for (site, n, _) in &signed {
        let _ = writeln!(
            out,
            "shiftready_site_signed_in{{site=\"{}\"}} {n}",
            label(site)
        );
    }
    out.push_str(
        "# HELP shiftready_site_signed_in_not_ready Signed-in agents whose state is not_ready, by site.\n\
         # TYPE shiftready_site_signed_in_not_ready gauge\n",
    );
    for (site, _, n) in &signed {
        let _ = writeln!(
            out,
            "shiftready_site_signed_in_not_ready{{site=\"{}\"}} {n}",
            label(site)
        );
    }
    out.push_str(
        "# HELP shiftready_open_incidents Incidents open now on signed-in agents, by site and incident name.\n\
         # TYPE shiftready_open_incidents gauge\n",
    );
    for ((site, name), n) in &incidents {
        let _ = writeln!(
            out,
            "shiftready_open_incidents{{site=\"{}\",name=\"{}\"}} {n}",
            label(site),
            label(name)
        );
    }
    out.push_str(
        "# HELP shiftready_open_incidents_beyond_home network_degraded incidents open now whose agent placed the problem beyond the home, by site.\n\
         # TYPE shiftready_open_incidents_beyond_home gauge\n",
    );
    for (site, n) in &beyond {
        let _ = writeln!(
            out,
            "shiftready_open_incidents_beyond_home{{site=\"{}\"}} {n}",
            label(site)
        );
    }
    let rows = sqlx::query(
        "SELECT site, rule, COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL \
         GROUP BY site, rule ORDER BY site, rule",
    )
    .fetch_all(&db.pool)
    .await?;
    out.push_str(
        "# HELP shiftready_alerts_open HQ's own alerts open now, by site and rule.\n\
         # TYPE shiftready_alerts_open gauge\n",
    );
    for r in &rows {
        use sqlx::Row as _;
        let (site, rule, n): (String, String, i64) =
            (r.try_get("site")?, r.try_get("rule")?, r.try_get("n")?);
        let _ = writeln!(
            out,
            "shiftready_alerts_open{{site=\"{}\",rule=\"{}\"}} {n}",
            label(&site),
            label(&rule)
        );
    }
    Ok(())
}
