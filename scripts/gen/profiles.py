"""The two Prometheus profiles the rules are generated for, and every window derived from
their scrape interval. One definition of the alerts (gen/rules.py, gen/slo_rules.py) is
rendered once per profile; nothing else in the rules differs between them.

- demo:  1 s scrapes for a 12-node fleet and a one-second "wow" (prometheus/).
- fleet: 10 s scrapes for hundreds to a thousand nodes on one machine (prometheus/fleet/).

Why the windows are multiples of the scrape interval: Prometheus v3 range selectors are
left-open, (t-w, t], and the newest scrape of a target may still be in flight when the rules
run, so a window of 3 scrape intervals always holds at least two samples of every target,
whatever its scrape phase; rate() needs two.
"""
import dataclasses

from lib import ROOT


def duration(seconds):
    """Prometheus duration text for a whole number of seconds or milliseconds (500ms, 3s, 1m, 432m)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    seconds = round(seconds)
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    # Where its files live: <dir>/prometheus.yml, <dir>/rules/*.yml, <dir>/tests/*.yml.
    dir: str
    scrape_s: float
    # The fast group (the SLIs and the per-node alerts): half a scrape interval, so time to
    # detect is at most one scrape plus half a scrape, whatever the phase between them.
    fast_eval_s: float
    # Every other group (the one-minute SLIs, the SLO page group).
    eval_s: float
    scrape_timeout_s: float
    # How long NodeDown stays pending. 0 in the demo (a crash pages within 2 s). In the fleet,
    # one scrape interval: by then every node of a region that went dark has been scraped at
    # least once since, so RegionDown is already firing and inhibits the per-node pages.
    node_down_for_s: float
    # SLO time compression: one real minute stands for this many minutes of a production SLO.
    # The workbook's shortest window (5 min) must still hold three scrapes: 300/c >= 3 scrapes.
    slo_compression: int
    # Evaluation intervals of the slow SLO groups (long windows change slowly).
    slo_ticket_eval_s: float
    slo_budget_eval_s: float
    # Scrapes in the leak prediction's window (see `leak`).
    leak_scrapes: int

    def window(self, scrapes):
        """A window of `scrapes` scrape intervals, as Prometheus duration text."""
        return duration(self.scrape_s * scrapes)

    @property
    def fast(self):
        """The fast SLIs' window: 3 scrapes, so at least two samples whatever the phase."""
        return self.window(3)

    @property
    def history(self):
        """The window NodeDown, ScrapeFlapping and the leak prediction look back over."""
        return self.window(10)

    @property
    def leak(self):
        """The window MemoryLeakPredicted fits its line over. The horizon is fixed (120 s, the
        fault's physics), so at long scrape intervals fewer scrapes must carry the slope: a
        least-squares line over scrapes that are mostly flat when a leak starts crosses late.
        At 10 s scrapes and the default 1 %/s leak, a 6-scrape window fired 20-34 s after the
        injection (39.6 s measured at 1000 nodes), a 3-scrape one 12-23 s (a simulation over
        scrape and evaluation phases). At rest a longer span in seconds means less slope noise:
        the memory noise (sd 0.003, bounded at 0.009) between two scrapes 10 s apart is worth
        at most +0.22 over 120 s, from at most 0.61: no crossing."""
        return self.window(self.leak_scrapes)

    @property
    def oom_s(self):
        """Seconds of the window NodeOOMKilled counts the host's OOM kills over: 30, or 6 scrapes
        if longer. It must hold the node's last scrape before a kill and its first after the
        restart (the 5 s restart gap plus up to a scrape on each side: 7 s at 1 s scrapes, 20 s
        at 10 s), and outlast a kill cycle at the default leak (5 %/s from a rest of 0.35-0.62: killed 8-13 s
        after each restart, then down 5 s, so restarts come 13-18 s apart), so a crash loop is
        one alert rather than a page per kill. At 1 s scrapes that is 30 s (a kill is counted
        for 23 s after its restart's first scrape, the next restart's comes at most 19 s later);
        at 10 s scrapes the two first-scrapes can be 30 s apart and the kill's own window
        starts up to 20 s before its restart's first scrape: 60 s. Once kills stop it resolves
        this long after the last scrape before the last kill."""
        return max(30, 6 * self.scrape_s)

    @property
    def oom(self):
        return duration(self.oom_s)

    @property
    def region_keep_firing_s(self):
        """RegionDown outlives the outage by one scrape plus two evaluations of the fast group:
        the nodes of a recovering region come back scrape by scrape, and the share falls below
        the line before the last of them is seen up; their NodeDown must still be inhibited."""
        return self.scrape_s + 2 * self.fast_eval_s

    @property
    def rules_dir(self):
        return ROOT / self.dir / "rules"


DEMO = Profile(name="demo", dir="prometheus", scrape_s=1, fast_eval_s=0.5, eval_s=1, scrape_timeout_s=1,
               node_down_for_s=0, slo_compression=60, slo_ticket_eval_s=10, slo_budget_eval_s=30,
               leak_scrapes=10)
FLEET = Profile(name="fleet", dir="prometheus/fleet", scrape_s=10, fast_eval_s=5, eval_s=10, scrape_timeout_s=2,
                node_down_for_s=10, slo_compression=10, slo_ticket_eval_s=60, slo_budget_eval_s=60,
                leak_scrapes=3)
PROFILES = {p.name: p for p in (DEMO, FLEET)}

for _p in PROFILES.values():
    # Every window must hold two samples of every target (see the module doc).
    assert 300 / _p.slo_compression >= 3 * _p.scrape_s, f"{_p.name}: the shortest SLO window is under 3 scrapes"
    assert _p.fast_eval_s <= _p.scrape_s / 2, f"{_p.name}: the fast group must run at least twice per scrape"
