//! The core component in wasmtime.
//!
//! One [`Engine`] per process; the component is compiled once and cached on
//! disk (keyed by the engine's compatibility hash and the component's bytes);
//! an [`InstancePre`](wasmtime::component::InstancePre) is resolved once and
//! instances are pooled for concurrent callers. Every call runs under an epoch
//! deadline and a linear-memory limit; an instance that trapped is dropped and
//! replaced, and the caller gets a typed [`CallError`].

mod cache;
mod convert;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hcal_core::model;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use convert::{core_error_code, describe_core_error};

wasmtime::component::bindgen!({ path: "../wit", world: "core" });

use self::hcal::core::types as wit;

/// The contract this host speaks.
pub const CONTRACT: &str = "hcal:core@0.5.0";
const CONTRACT_VERSION: &str = "0.5.0";

/// How often the epoch advances; deadlines are whole ticks.
const TICK: Duration = Duration::from_millis(5);

/// A series master's `start`, as Google writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesStart {
    pub date: Option<String>,
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
}

/// Bounds and locations for the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The component (`hcal_core.wasm`).
    pub component: PathBuf,
    /// Where precompiled components are cached; `None` compiles every start.
    pub cache_dir: Option<PathBuf>,
    /// Most linear memory one instance may have.
    pub memory_limit_bytes: usize,
    /// Longest one call may run.
    pub deadline: Duration,
    /// Most idle instances kept for reuse.
    pub max_idle_instances: usize,
    /// An instance whose linear memory grew past this is dropped after its
    /// call instead of going back to the pool: linear memory never shrinks,
    /// so one huge page would otherwise pin its memory for good.
    pub recycle_above_bytes: usize,
}

impl RuntimeConfig {
    /// Defaults for `component`: 256 MiB, 10 s, instances past 64 MiB not
    /// kept, cache under `target/` or the user's cache directory.
    pub fn new(component: impl Into<PathBuf>) -> RuntimeConfig {
        RuntimeConfig {
            component: component.into(),
            cache_dir: Some(default_cache_dir()),
            memory_limit_bytes: 256 << 20,
            deadline: Duration::from_secs(10),
            max_idle_instances: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            recycle_above_bytes: 64 << 20,
        }
    }
}

fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HCAL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("hcal");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".cache").join("hcal");
    }
    std::env::temp_dir().join("hcal-cache")
}

/// Where the component is found when nobody says: `$HCAL_COMPONENT`, beside
/// the executable, or where `make build` puts it in this checkout.
pub fn default_component_path() -> PathBuf {
    if let Some(path) = std::env::var_os("HCAL_COMPONENT") {
        return PathBuf::from(path);
    }
    if let Ok(exe) = std::env::current_exe() {
        let beside = exe.with_file_name("hcal_core.wasm");
        if beside.exists() {
            return beside;
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/guest/hcal_core.wasm")
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no component at {}: build it with `make build` (or point --component / HCAL_COMPONENT at hcal_core.wasm)", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid WebAssembly component: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{} does not implement {CONTRACT} ({reason}); rebuild it from this checkout with `make build`", path.display())]
    WrongContract { path: PathBuf, reason: String },
    #[error("cannot set up wasmtime: {0}")]
    Engine(String),
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The core refused the input (malformed JSON, a bad request, a bad key).
    #[error("{}", describe_core_error(.0))]
    Core(wit::Error),
    /// The call ran past its deadline; the instance was replaced.
    #[error("the core ran past its deadline of {0:?}")]
    Deadline(Duration),
    /// The instance needed more memory than allowed; it was replaced.
    #[error("the core needed more than its memory limit of {} MiB", .0 >> 20)]
    MemoryLimit(usize),
    /// The guest trapped; the instance was replaced.
    #[error("the core trapped: {0}")]
    Trap(String),
    /// The runtime could not make an instance.
    #[error("cannot instantiate the core: {0}")]
    Instantiate(String),
}

impl CallError {
    /// True when the instance was lost (a trap, a deadline, the memory limit):
    /// the input, not the request, is to blame, and retrying smaller parts may
    /// succeed.
    pub fn is_trap(&self) -> bool {
        matches!(
            self,
            CallError::Deadline(_) | CallError::MemoryLimit(_) | CallError::Trap(_)
        )
    }
}

/// Limits linear memory, remembers whether it refused to grow, and keeps the
/// high-water mark of every instance of the runtime.
struct MemoryLimiter {
    limit: usize,
    refused: bool,
    /// This instance's linear memory now.
    size: usize,
    peak: Arc<AtomicUsize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.peak
            .fetch_max(desired.min(self.limit), Ordering::Relaxed);
        if desired > self.limit {
            self.refused = true;
            // Trap rather than return -1: Rust guests abort on allocation
            // failure anyway, and a trap names the cause.
            wasmtime::bail!(
                "memory limit of {} bytes reached (wanted {desired})",
                self.limit
            );
        }
        self.size = desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// What each store carries.
struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One live instance and its store.
struct Pooled {
    store: Store<StoreData>,
    core: Core,
}

/// Advances the engine's epoch until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("hcal-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How the component was made ready, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadKind {
    /// Compiled now (and written to the cache if there is one).
    Compiled,
    /// Loaded from the on-disk cache.
    Cached,
}

/// The core component, ready to call from any thread.
pub struct Runtime {
    engine: Engine,
    pre: CorePre<StoreData>,
    pool: Mutex<Vec<Pooled>>,
    config: RuntimeConfig,
    load: (LoadKind, Duration),
    peak_memory: Arc<AtomicUsize>,
    /// Time spent inside the component, for the service's metrics.
    busy_micros: std::sync::atomic::AtomicU64,
    calls: std::sync::atomic::AtomicU64,
    _ticker: Ticker,
}

impl Runtime {
    /// Build the engine, load (or compile and cache) the component, and check
    /// that it implements this host's contract.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, LoadError> {
        let mut wasm_config = Config::new();
        wasm_config.wasm_component_model(true);
        wasm_config.epoch_interruption(true);
        // For `perf record`: HCAL_PERFMAP=1 names the JIT-compiled guest
        // functions; HCAL_PERFMAP=jitdump also keeps their code, for
        // `perf inject --jit` and `perf annotate`.
        match std::env::var("HCAL_PERFMAP").as_deref() {
            Ok("jitdump") => wasm_config.profiler(wasmtime::ProfilingStrategy::JitDump),
            Ok(_) => wasm_config.profiler(wasmtime::ProfilingStrategy::PerfMap),
            Err(_) => &mut wasm_config,
        };
        let engine = Engine::new(&wasm_config).map_err(|e| LoadError::Engine(e.to_string()))?;

        let started = Instant::now();
        let (component, kind) =
            cache::load(&engine, &config.component, config.cache_dir.as_deref())?;
        let load = (kind, started.elapsed());

        let mut linker: Linker<StoreData> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        let wrong = |e: wasmtime::Error| LoadError::WrongContract {
            path: config.component.clone(),
            reason: format!("{e:#}"),
        };
        let instance_pre = linker.instantiate_pre(&component).map_err(wrong)?;
        let pre = CorePre::new(instance_pre).map_err(wrong)?;
        let runtime = Runtime {
            _ticker: Ticker::start(engine.clone()),
            engine,
            pre,
            pool: Mutex::new(Vec::new()),
            config,
            load,
            peak_memory: Arc::new(AtomicUsize::new(0)),
            busy_micros: Default::default(),
            calls: Default::default(),
        };

        // Ask the component which contract it implements.
        let version = runtime
            .call(|core, store| {
                core.hcal_core_processor()
                    .call_contract_version(store)
                    .map(Ok)
            })
            .map_err(|e| LoadError::WrongContract {
                path: runtime.config.component.clone(),
                reason: e.to_string(),
            })?;
        if version != CONTRACT_VERSION {
            return Err(LoadError::WrongContract {
                path: runtime.config.component.clone(),
                reason: format!("it implements hcal:core@{version}"),
            });
        }
        Ok(runtime)
    }

    /// Whether the component was compiled or came from the cache, and how
    /// long that took.
    pub fn load_report(&self) -> (LoadKind, Duration) {
        self.load
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Calls into the component so far, and the time they took in all.
    pub fn usage(&self) -> (u64, Duration) {
        (
            self.calls.load(Ordering::Relaxed),
            Duration::from_micros(self.busy_micros.load(Ordering::Relaxed)),
        )
    }

    fn instantiate(&self) -> Result<Pooled, CallError> {
        let data = StoreData {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: self.config.memory_limit_bytes,
                refused: false,
                size: 0,
                peak: self.peak_memory.clone(),
            },
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.set_epoch_deadline(u64::MAX / 2);
        let core = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| CallError::Instantiate(format!("{e:#}")))?;
        Ok(Pooled { store, core })
    }

    /// Run `f` on a pooled instance under the deadline. The instance goes back
    /// to the pool unless it trapped.
    fn call<T>(
        &self,
        f: impl FnOnce(&Core, &mut Store<StoreData>) -> wasmtime::Result<Result<T, wit::Error>>,
    ) -> Result<T, CallError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut pooled = match pooled {
            Some(p) => p,
            None => self.instantiate()?,
        };
        let ticks = (self.config.deadline.as_millis() / TICK.as_millis()).max(1) as u64;
        pooled.store.set_epoch_deadline(ticks);
        let started = Instant::now();
        let outcome = f(&pooled.core, &mut pooled.store);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.busy_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match outcome {
            Ok(result) => {
                let grown = pooled.store.data().limiter.size > self.config.recycle_above_bytes;
                let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
                if !grown && pool.len() < self.config.max_idle_instances {
                    pool.push(pooled);
                }
                result.map_err(CallError::Core)
            }
            Err(trap) => {
                // The instance is dropped here: its state can no longer be trusted.
                if pooled.store.data().limiter.refused {
                    return Err(CallError::MemoryLimit(self.config.memory_limit_bytes));
                }
                if matches!(
                    trap.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                ) {
                    return Err(CallError::Deadline(self.config.deadline));
                }
                Err(CallError::Trap(format!("{trap:#}")))
            }
        }
    }

    /// The batch call: `pages` (Google JSON) into `request.user`'s meeting list.
    pub fn process(
        &self,
        pages: &[String],
        request: &model::ProcessRequest,
    ) -> Result<model::MeetingList, CallError> {
        let request = convert::request(request);
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_process(store, pages, &request)
        })
        .map(convert::meeting_list)
    }

    /// [`Runtime::process`], but when the core traps on the batch (a deadline
    /// or the memory limit), retry event by event: the events that trap on
    /// their own are reported as `trap` errors naming them, and the rest is
    /// processed. One hostile event never costs a user their meeting list.
    pub fn process_isolating_traps(
        &self,
        pages: &[String],
        request: &model::ProcessRequest,
    ) -> Result<model::MeetingList, CallError> {
        match self.process(pages, request) {
            Err(e) if e.is_trap() => {}
            other => return other,
        }
        let mut survivors: Vec<serde_json::Value> = Vec::new();
        let mut errors = Vec::new();
        // The calendar's zone and the last page's tokens, for the rebuilt page.
        let mut envelope = serde_json::Map::new();
        for page in pages {
            // Splitting a page into its items is not reading events: the core
            // still reads every one of them.
            let Ok(value) = serde_json::from_str::<serde_json::Value>(page) else {
                continue;
            };
            for key in ["timeZone", "nextPageToken", "nextSyncToken"] {
                match value.get(key) {
                    Some(v) => envelope.insert(key.to_string(), v.clone()),
                    None if key != "timeZone" => envelope.remove(key),
                    None => None,
                };
            }
            let items = match value.get("items").and_then(|i| i.as_array()) {
                Some(items) => items.clone(),
                None => vec![value.clone()],
            };
            for item in items {
                let one = serde_json::json!({ "items": [&item] }).to_string();
                match self.process(std::slice::from_ref(&one), request) {
                    Err(e) if e.is_trap() => errors.push(model::EventError {
                        event_id: item.get("id").and_then(|v| v.as_str()).map(str::to_string),
                        error: model::ErrorDetail {
                            code: "trap".into(),
                            field: None,
                            message: e.to_string(),
                        },
                    }),
                    _ => survivors.push(item),
                }
            }
        }
        envelope.insert("items".into(), serde_json::Value::Array(survivors));
        let page = serde_json::Value::Object(envelope).to_string();
        let mut list = self.process(&[page], request)?;
        list.errors.extend(errors);
        Ok(list)
    }

    /// The instance starts (Unix seconds) of a series in a window; all-day
    /// series give midnight UTC of each date.
    pub fn expand_recurrence(
        &self,
        start: &SeriesStart,
        recurrence: &[String],
        window: &model::Window,
        max_instances: u32,
    ) -> Result<Vec<i64>, CallError> {
        let spec = wit::SeriesSpec {
            start: wit::EventTime {
                date: start.date.clone(),
                date_time: start.date_time.clone(),
                time_zone: start.time_zone.clone(),
            },
            recurrence: recurrence.to_vec(),
        };
        let window = wit::Window {
            from: window.from.clone(),
            to: window.to.clone(),
        };
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_expand_recurrence(store, &spec, &window, max_instances)
        })
    }

    /// Every join-link candidate in `fields`, ranked.
    pub fn extract_links(
        &self,
        fields: &[(model::LinkSource, String)],
        options: &model::LinkOptions,
    ) -> Result<Vec<model::JoinLink>, CallError> {
        let fields = convert::link_fields(fields);
        let options = convert::link_options(options);
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_extract_links(store, &fields, &options)
                .map(Ok)
        })
        .map(convert::links)
    }

    /// The services `extract_links` recognises: `(id, display name)`.
    pub fn services(&self) -> Result<Vec<(String, String)>, CallError> {
        self.call(|core, store| core.hcal_core_processor().call_services(store).map(Ok))
            .map(|list| list.into_iter().map(|s| (s.id, s.name)).collect())
    }

    /// Replace SafeLinks in `text` by what they wrap.
    pub fn unwrap_safelinks(&self, text: &str) -> Result<String, CallError> {
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_unwrap_safelinks(store, text)
                .map(Ok)
        })
    }

    /// Plain text of a description.
    pub fn agenda_text(&self, description: &str) -> Result<String, CallError> {
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_agenda_text(store, description)
                .map(Ok)
        })
    }

    /// Seal a value.
    pub fn seal(&self, plaintext: &str, key: &model::OrgKey) -> Result<model::Sealed, CallError> {
        let key = convert::org_key(key);
        self.call(|core, store| core.hcal_core_processor().call_seal(store, plaintext, &key))
            .map(|s| model::Sealed {
                jwe: s.jwe,
                key_url: s.key_url,
            })
    }

    /// Seal every plain text of `texts` in place (a presence's few: one
    /// call each).
    pub fn seal_texts(
        &self,
        texts: Vec<&mut model::Text>,
        key: &model::OrgKey,
    ) -> Result<(), CallError> {
        for text in texts {
            if let model::Text::Plain(plain) = text {
                *text = model::Text::Sealed(self.seal(plain, key)?);
            }
        }
        Ok(())
    }

    /// Open a sealed value.
    pub fn open(&self, value: &model::Sealed, key: &model::OrgKey) -> Result<String, CallError> {
        let key = convert::org_key(key);
        let value = wit::Sealed {
            jwe: value.jwe.clone(),
            key_url: value.key_url.clone(),
        };
        self.call(|core, store| core.hcal_core_processor().call_open(store, &value, &key))
    }

    /// Open many sealed values in one call, each with the key of `keys` its
    /// `key_url` names: one result per value, in order.
    pub fn open_many(
        &self,
        values: &[&model::Sealed],
        keys: &[model::OrgKey],
    ) -> Result<Vec<Result<String, CallError>>, CallError> {
        let values: Vec<wit::Sealed> = values
            .iter()
            .map(|value| wit::Sealed {
                jwe: value.jwe.clone(),
                key_url: value.key_url.clone(),
            })
            .collect();
        let keys: Vec<wit::OrgKey> = keys.iter().map(convert::org_key).collect();
        self.call(|core, store| {
            core.hcal_core_processor()
                .call_open_many(store, &values, &keys)
                .map(Ok)
        })
        .map(|opened| {
            opened
                .into_iter()
                .map(|result| result.map_err(CallError::Core))
                .collect()
        })
    }

    /// The most linear memory any instance of this runtime has had, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory.load(Ordering::Relaxed)
    }

    /// Idle instances in the pool (for tests and metrics).
    pub fn idle_instances(&self) -> usize {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
