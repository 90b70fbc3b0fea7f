//! Backfilling an OpenMetrics file into TSDB blocks with promtool, cut into slices that
//! several promtools backfill in parallel, each into one long block (see [`backfill`]).

use std::path::Path;
use std::time::Duration;

use crate::alert_state::Millis;
use crate::engine::EngineError;
use crate::tools::Tools;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |cause| EngineError::Io { path: path.to_owned(), cause }
}

/// The block lengths promtool writes, in hours (`tsdb.ExponentialBlockRanges(2h, 10, 3)`):
/// it rounds `--max-block-duration` down to one of them and aligns blocks to its multiples
/// from the epoch.
const BLOCK_HOURS: [u64; 10] = [2, 6, 18, 54, 162, 486, 1458, 4374, 13122, 39366];

/// A file smaller than this is backfilled by one promtool: slicing would not pay.
const SLICE_MIN_BYTES: u64 = 64 << 20;

/// How many places of a file are read to decide that its samples come in time order.
const ORDER_PROBES: u64 = 64;

fn block_hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

/// A part of an OpenMetrics file to backfill by itself: its bytes `start..end`, after
/// `header` (the metadata lines of the family it starts in), into blocks of `block`.
#[derive(Debug, Clone, PartialEq)]
struct Slice {
    start: u64,
    end: u64,
    header: Vec<u8>,
    block: Duration,
}

/// Backfills the OpenMetrics file `file` into `data` with promtool, in slices backfilled in
/// parallel (one promtool per core), each in one long block when it can be.
///
/// promtool reads its whole input once for the time range and once more per block it
/// writes (2 h by default: a 26 h file is read 15 times); it uses one core. So a file whose
/// samples come in time order (the virtual fleet writes scrape after scrape) is cut at
/// multiples of a block length (from the epoch, as promtool aligns blocks), and each slice
/// becomes one block, read twice. Any other file (recorded series come family by family) is
/// cut into one part per core at line boundaries, each one block over the whole range: the
/// blocks overlap in time, which Prometheus 3 accepts and merges at query time, as it does
/// for the recorded blocks over the raw ones. Every slice starts with the metadata lines of
/// the family it starts in (a `# TYPE` decides how `le` and `quantile` are normalised) and
/// ends with `# EOF`. Cutting never drops or repeats a sample, whatever the file's order.
pub(crate) fn backfill(tools: &Tools, file: &Path, data: &Path, scratch: &Path) -> Result<(), EngineError> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    backfill_in(tools, file, data, scratch, workers, SLICE_MIN_BYTES)
}

/// [`backfill`] with `workers` promtools for files of `min_bytes` or more.
fn backfill_in(
    tools: &Tools,
    file: &Path,
    data: &Path,
    scratch: &Path,
    workers: usize,
    min_bytes: u64,
) -> Result<(), EngineError> {
    let slices = slices(file, workers, min_bytes).map_err(io(file))?;
    if let [only] = slices.as_slice() {
        tools.backfill_openmetrics_blocks(file, data, only.block)?;
        return Ok(());
    }
    let len = std::fs::metadata(file).map_err(io(file))?.len();
    // Longest first, so the last ones to start are short.
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(slices[*i].end - slices[*i].start));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<EngineError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(slices.len()) {
            scope.spawn(|| {
                loop {
                    if failed.lock().map_or(true, |f| f.is_some()) {
                        return;
                    }
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = order.get(n) else { return };
                    let slice = &slices[i];
                    let part = scratch.join(format!("backfill-{i}.om"));
                    let result = write_slice(file, slice, slice.end < len, &part)
                        .map_err(io(&part))
                        .and_then(|()| Ok(tools.backfill_openmetrics_blocks(&part, data, slice.block)?));
                    let _ = std::fs::remove_file(&part);
                    if let Err(e) = result
                        && let Ok(mut f) = failed.lock()
                    {
                        f.get_or_insert(e);
                    }
                }
            });
        }
    });
    match failed.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e),
        Err(_) => Err(EngineError::Io {
            path: file.to_owned(),
            cause: std::io::Error::other("a backfill thread panicked"),
        }),
    }
}

/// Writes `slice` of `file` to `out`: its header, its bytes, and `# EOF` if `add_eof` (the
/// file's own ends the last slice).
fn write_slice(file: &Path, slice: &Slice, add_eof: bool, out: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut src = std::fs::File::open(file)?;
    let mut dst = std::fs::File::create(out)?;
    dst.write_all(&slice.header)?;
    src.seek(SeekFrom::Start(slice.start))?;
    // File to file: the kernel copies (copy_file_range).
    let copied = std::io::copy(&mut (&mut src).take(slice.end - slice.start), &mut dst)?;
    if copied != slice.end - slice.start {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank"));
    }
    if add_eof {
        dst.write_all(b"# EOF\n")?;
    }
    dst.flush()
}

/// How to cut `file` for `workers` promtools if it has `min_bytes` or more (see
/// [`backfill`]); one slice: don't.
fn slices(file: &Path, workers: usize, min_bytes: u64) -> std::io::Result<Vec<Slice>> {
    let text = Text::open(file)?;
    let len = text.len;
    let longest = block_hours(BLOCK_HOURS[BLOCK_HOURS.len() - 1]);
    let whole = |block| vec![Slice { start: 0, end: len, header: Vec::new(), block }];
    if workers < 2 || len < min_bytes {
        return Ok(whole(longest));
    }
    let (Some((_, first)), Some(last)) = (text.next_sample(0)?, text.last_sample()?) else {
        return Ok(whole(longest));
    };
    let mut ordered = first <= last;
    let mut previous = first;
    for i in 1..ORDER_PROBES {
        if let Some((_, t)) = text.next_sample(len * i / ORDER_PROBES)? {
            ordered &= previous <= t && t <= last;
            previous = t;
        }
    }
    let mut cuts = Vec::new();
    let block;
    if ordered {
        // The longest block length that still gives two slices per worker.
        let windows = |h: u64| {
            let d = Millis::try_from(block_hours(h).as_millis()).unwrap_or(Millis::MAX);
            (d, last.div_euclid(d) - first.div_euclid(d) + 1)
        };
        let wanted = i64::try_from(2 * workers).unwrap_or(i64::MAX);
        let h = BLOCK_HOURS.iter().rev().copied().find(|h| windows(*h).1 >= wanted).unwrap_or(BLOCK_HOURS[0]);
        let (d, n) = windows(h);
        if n < 2 {
            return Ok(whole(longest));
        }
        block = block_hours(h);
        let mut from = 0;
        for k in 1..n {
            let at = text.first_at_or_after((first.div_euclid(d) + k) * d, from)?;
            cuts.push(at);
            from = at;
        }
    } else {
        block = longest;
        for k in 1..workers as u64 {
            cuts.push(text.line_start(len * k / workers as u64)?);
        }
    }
    cuts.push(len);
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts {
        if end > start {
            let header = if start == 0 { Vec::new() } else { text.header_before(start)? };
            out.push(Slice { start, end, header, block });
        }
        start = end;
    }
    Ok(out)
}

/// An OpenMetrics file read in places.
struct Text {
    file: std::fs::File,
    len: u64,
}

/// What is read at once.
const READ_CHUNK: u64 = 64 << 10;

fn is_metadata(line: &[u8]) -> bool {
    line.starts_with(b"# HELP ") || line.starts_with(b"# TYPE ") || line.starts_with(b"# UNIT ")
}

/// The timestamp of a sample line (its last field, in seconds), in milliseconds.
fn sample_time(line: &[u8]) -> Option<Millis> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let last = line.rsplit(|b| *b == b' ').next()?;
    let seconds: f64 = std::str::from_utf8(last).ok()?.parse().ok()?;
    seconds.is_finite().then(|| (seconds * 1e3).round() as Millis)
}

impl Text {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }

    fn read(&self, at: u64, len: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = &self.file;
        f.seek(SeekFrom::Start(at))?;
        let mut buf = Vec::new();
        f.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The start of the first line at or after `at` (`len` if none).
    fn line_start(&self, at: u64) -> std::io::Result<u64> {
        if at == 0 {
            return Ok(0);
        }
        let mut from = at - 1;
        while from < self.len {
            let buf = self.read(from, READ_CHUNK)?;
            if let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                return Ok(from + nl as u64 + 1);
            }
            from += buf.len() as u64;
        }
        Ok(self.len)
    }

    /// The first sample line starting at or after `at`: where it starts and its time.
    fn next_sample(&self, at: u64) -> std::io::Result<Option<(u64, Millis)>> {
        let mut line_at = self.line_start(at)?;
        let mut pending: Vec<u8> = Vec::new();
        let mut read_at = line_at;
        while read_at < self.len {
            let buf = self.read(read_at, READ_CHUNK)?;
            read_at += buf.len() as u64;
            pending.extend_from_slice(&buf);
            let mut used = 0;
            while let Some(nl) = pending[used..].iter().position(|b| *b == b'\n') {
                let line = &pending[used..used + nl];
                if !line.is_empty() && !line.starts_with(b"#") {
                    return Ok(sample_time(line).map(|t| (line_at, t)));
                }
                line_at += nl as u64 + 1;
                used += nl + 1;
            }
            pending.drain(..used);
        }
        Ok(None)
    }

    /// The time of the last sample line.
    fn last_sample(&self) -> std::io::Result<Option<Millis>> {
        let mut window = READ_CHUNK;
        loop {
            let start = self.len.saturating_sub(window);
            let buf = self.read(start, self.len - start)?;
            let mut lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
            if start > 0 {
                lines.remove(0);
            }
            if let Some(line) = lines.iter().rev().find(|l| !l.is_empty() && !l.starts_with(b"#")) {
                return Ok(sample_time(line));
            }
            if start == 0 {
                return Ok(None);
            }
            window *= 4;
        }
    }

    /// The start of the first sample line at or after `from` whose time is at or after `t`,
    /// if the samples come in time order (`len` if none).
    fn first_at_or_after(&self, t: Millis, from: u64) -> std::io::Result<u64> {
        let (mut lo, mut hi) = (from, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.next_sample(mid)? {
                Some((at, time)) if time < t => lo = at + 1,
                _ => hi = mid,
            }
        }
        Ok(self.next_sample(lo)?.map_or(self.len, |(at, _)| at))
    }

    /// The metadata lines in force at `at` (a line start): the last run of `# HELP`,
    /// `# TYPE` and `# UNIT` lines before it; none if `at` starts such a line.
    fn header_before(&self, at: u64) -> std::io::Result<Vec<u8>> {
        let here = self.read(at, READ_CHUNK.min(self.len - at))?;
        if is_metadata(&here) {
            return Ok(Vec::new());
        }
        let mut window = READ_CHUNK;
        loop {
            let start = at.saturating_sub(window);
            let buf = self.read(start, at - start)?;
            let mut lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
            // The text before `at` ends with a newline: the last piece is empty.
            lines.pop();
            let complete = if start > 0 { &lines[1.min(lines.len())..] } else { &lines[..] };
            if let Some(last_meta) = complete.iter().rposition(|l| is_metadata(l)) {
                let first_meta =
                    complete[..last_meta].iter().rposition(|l| !is_metadata(l)).map_or(0, |i| i + 1);
                if first_meta > 0 || start == 0 {
                    let mut header = Vec::new();
                    for line in &complete[first_meta..=last_meta] {
                        header.extend_from_slice(line);
                        header.push(b'\n');
                    }
                    return Ok(header);
                }
            } else if start == 0 {
                return Ok(Vec::new());
            }
            window *= 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// `hours` of 15 min rounds from a whole day (in time order, families repeated per
    /// round), or the same samples family by family and series by series.
    fn openmetrics(hours: i64, by_time: bool) -> String {
        let day = 1_796_342_400_i64;
        let rounds: Vec<i64> = (0..hours * 4).map(|i| day + i * 900).collect();
        let up = |t: i64| format!("up{{node=\"1\"}} 1 {t}.000\n");
        let buckets = |t: i64| {
            ["0.5", "1", "+Inf"]
                .iter()
                .map(|le| format!("h_bucket{{le=\"{le}\"}} {} {t}.000\n", t % 7))
                .collect::<String>()
        };
        let mut text = String::new();
        if by_time {
            for t in &rounds {
                text.push_str(&format!(
                    "# TYPE up gauge\n{}# HELP h H.\n# TYPE h histogram\n{}",
                    up(*t),
                    buckets(*t)
                ));
            }
        } else {
            text.push_str("# TYPE up gauge\n");
            rounds.iter().for_each(|t| text.push_str(&up(*t)));
            text.push_str("# HELP h H.\n# TYPE h histogram\n");
            for le in ["0.5", "1", "+Inf"] {
                for t in &rounds {
                    text.push_str(&format!("h_bucket{{le=\"{le}\"}} {} {t}.000\n", t % 7));
                }
            }
        }
        text.push_str("# EOF\n");
        text
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rule-coverage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// The slices' texts as promtool gets them.
    fn cut(file: &Path, workers: usize) -> (Vec<Slice>, Vec<String>) {
        let len = std::fs::metadata(file).expect("file").len();
        let slices = slices(file, workers, 0).expect("sliced");
        let texts = slices
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let out = file.with_extension(format!("{i}.om"));
                write_slice(file, s, s.end < len, &out).expect("written");
                std::fs::read_to_string(&out).expect("read")
            })
            .collect();
        assert_eq!(slices.first().map(|s| s.start), Some(0));
        assert_eq!(slices.last().map(|s| s.end), Some(len));
        assert!(slices.windows(2).all(|w| w[0].end == w[1].start), "contiguous: {slices:?}");
        (slices, texts)
    }

    fn sample_lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn time_ordered_files_are_cut_at_block_boundaries_each_slice_with_its_family_type() {
        let dir = scratch("slices-by-time");
        let file = dir.join("series.om");
        let text = openmetrics(10, true);
        std::fs::write(&file, &text).expect("written");
        let (slices, texts) = cut(&file, 2);
        assert!(slices.iter().all(|s| s.block == block_hours(2)), "10 h: 2 h blocks, at least 4 of them");
        assert_eq!(slices.len(), 5);
        let mut all = Vec::new();
        for t in &texts {
            assert!(t.starts_with("# TYPE up gauge\nup"), "{t}");
            assert!(t.ends_with("# EOF\n"), "{t}");
            let times: BTreeSet<i64> = sample_lines(t)
                .iter()
                .filter_map(|l| sample_time(l.as_bytes()))
                .map(|ms| ms / 7_200_000)
                .collect();
            assert_eq!(times.len(), 1, "one 2 h window per slice: {times:?}");
            all.extend(sample_lines(t));
        }
        assert_eq!(all, sample_lines(&text), "every sample once, in order");
        // Cut inside a family: the slice starts with that family's metadata.
        let t = Text::open(&file).expect("open");
        let mid = u64::try_from(text.find("h_bucket{le=\"1\"}").expect("a bucket")).expect("offset");
        assert_eq!(t.header_before(mid).expect("header"), b"# HELP h H.\n# TYPE h histogram\n");
        assert_eq!(t.header_before(0).expect("header"), b"");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn other_files_are_cut_in_one_part_per_worker_between_lines() {
        let dir = scratch("slices-by-bytes");
        let file = dir.join("recorded.om");
        let text = openmetrics(10, false);
        std::fs::write(&file, &text).expect("written");
        let (slices, texts) = cut(&file, 2);
        assert_eq!(slices.len(), 2);
        assert!(slices.iter().all(|s| s.block == block_hours(39_366)), "one block each");
        assert!(texts[1].starts_with("# HELP h H.\n# TYPE h histogram\nh_bucket"), "{}", &texts[1][..80]);
        let all: Vec<&str> = texts.iter().flat_map(|t| sample_lines(t)).collect();
        assert_eq!(all, sample_lines(&text));
        let (one, _) = cut(&file, 1);
        assert_eq!(one.len(), 1, "one worker: no cut");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Needs the real promtool (as tests/real_prometheus.rs).
    #[test]
    fn sliced_and_whole_backfills_hold_the_same_samples() {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/root/usr/bin");
        let tools = Tools::in_dir(&bin).unwrap_or_else(|e| panic!("this test needs the real tools: {e}"));
        let dir = scratch("backfill");
        let dump = |data: &Path| {
            let sandbox = dir.join("sandbox");
            std::fs::create_dir_all(&sandbox).expect("sandbox");
            std::fs::create_dir_all(data.join("wal")).expect("wal");
            let out = std::process::Command::new(&tools.promtool)
                .args(["tsdb", "dump", "--sandbox-dir-root"])
                .arg(&sandbox)
                .arg(data)
                .output()
                .expect("promtool dump");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let mut lines: Vec<String> =
                String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        for by_time in [true, false] {
            let file = dir.join("in.om");
            std::fs::write(&file, openmetrics(10, by_time)).expect("written");
            let (whole, sliced) =
                (dir.join(format!("whole-{by_time}")), dir.join(format!("sliced-{by_time}")));
            for d in [&whole, &sliced] {
                std::fs::create_dir_all(d).expect("data dir");
            }
            tools.backfill_openmetrics(&file, &whole).expect("promtool");
            backfill_in(&tools, &file, &sliced, &dir, 2, 0).expect("sliced backfill");
            let (a, b) = (dump(&whole), dump(&sliced));
            assert_eq!(a.len(), 40 * 4, "10 h of 15 min rounds, 4 series");
            assert!(a.iter().any(|l| l.contains("le=\"1.0\"")), "the type normalised le: {:?}", &a[..4]);
            assert_eq!(a, b, "by time: {by_time}");
            let blocks = |d: &Path| std::fs::read_dir(d).expect("dir").filter(|e| e.is_ok()).count() - 1;
            assert_eq!(blocks(&sliced), if by_time { 5 } else { 2 });
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
