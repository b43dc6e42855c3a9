//! The topology: spouts and bolts, their parallelism, output streams and
//! subscriptions with groupings, built with [`TopologyBuilder`] and checked
//! into an immutable [`Topology`].

use crate::sync::StdArc as Arc;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use super::executor::Collector;
use super::tuple::{StreamId, TaskId, Tuple};

/// The name of the stream used when none is given.
pub const DEFAULT_STREAM: &str = "default";

/// What a task knows about itself and the topology.
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub(crate) task: TaskId,
    pub(crate) component: usize,
    pub(crate) worker: usize,
    pub(crate) topology: Arc<Topology>,
}

impl TaskContext {
    /// This task's id.
    pub fn task_id(&self) -> TaskId {
        self.task
    }

    /// This task's component name.
    pub fn component(&self) -> &str {
        &self.topology.components[self.component].name
    }

    /// Index of this task among its component's tasks (0-based).
    pub fn task_index(&self) -> usize {
        (self.task - self.topology.components[self.component].tasks.start) as usize
    }

    /// The component's parallelism.
    pub fn parallelism(&self) -> usize {
        self.topology.components[self.component].tasks.len()
    }

    /// Index of the worker running this task.
    pub fn worker_index(&self) -> usize {
        self.worker
    }

    /// The id of a stream by name.
    pub fn stream(&self, name: &str) -> Option<StreamId> {
        self.topology.stream_id(name)
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

/// A source of tuples. `next_tuple` is called in a loop on the executor's
/// thread; it should emit a few tuples (or none, when it has nothing, in
/// which case the executor backs off briefly) and return.
pub trait Spout: Send {
    /// Called once on the executor thread before the first `next_tuple`.
    fn open(&mut self, _ctx: &TaskContext) {}
    /// Emits zero or more tuples through `out`.
    fn next_tuple(&mut self, out: &mut Collector);
    /// Called once when the spout is stopped, after its last `next_tuple`.
    fn close(&mut self) {}
}

/// A tuple processor. `execute` is called for every tuple that reaches the
/// task, on the executor's thread.
pub trait Bolt: Send {
    /// Called once on the executor thread before the first `execute`.
    fn prepare(&mut self, _ctx: &TaskContext) {}
    /// Processes one tuple, emitting zero or more through `out`.
    fn execute(&mut self, tuple: &Tuple, out: &mut Collector);
    /// Called once after the last tuple (every upstream task has finished).
    fn cleanup(&mut self) {}
}

/// Makes one spout instance per task.
pub type SpoutFactory = Arc<dyn Fn(&TaskContext) -> Box<dyn Spout> + Send + Sync>;
/// Makes one bolt instance per task.
pub type BoltFactory = Arc<dyn Fn(&TaskContext) -> Box<dyn Bolt> + Send + Sync>;

/// A field chosen for a fields grouping: by name or by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldSel {
    /// A declared field name.
    Name(String),
    /// A position in the tuple.
    Index(usize),
}

impl From<&str> for FieldSel {
    fn from(s: &str) -> FieldSel {
        FieldSel::Name(s.to_owned())
    }
}

impl From<usize> for FieldSel {
    fn from(i: usize) -> FieldSel {
        FieldSel::Index(i)
    }
}

/// How a stream's tuples are spread over a subscribing component's tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// Round robin over the tasks (each sender starts at its own offset).
    Shuffle,
    /// The hash of the chosen fields picks the task: equal keys, same task.
    Fields(Vec<FieldSel>),
    /// Every task gets a copy.
    All,
    /// The task with the lowest id gets everything.
    Global,
    /// The emitter names the task (`Collector::emit_direct`).
    Direct,
    /// Round robin over the tasks in the emitter's worker if there are any,
    /// otherwise over all tasks.
    LocalOrShuffle,
}

/// A grouping after validation: field names resolved to indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Shuffle,
    Fields(Vec<usize>),
    All,
    Global,
    Direct,
    LocalOrShuffle,
}

/// Why a topology was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyError {
    /// Two components share a name.
    DuplicateComponent(String),
    /// A component name is empty.
    EmptyName,
    /// A component has parallelism 0.
    ZeroParallelism(String),
    /// A subscription names a component that does not exist.
    UnknownComponent {
        /// The subscribing component.
        component: String,
        /// The name it gave.
        source: String,
    },
    /// A subscription names a stream its source does not declare.
    UnknownStream {
        /// The source component.
        component: String,
        /// The stream name.
        stream: String,
    },
    /// A fields grouping names a field the stream does not have.
    BadField {
        /// The source component.
        component: String,
        /// The stream.
        stream: String,
        /// The field as given (name or index).
        field: String,
        /// The stream's declared fields.
        declared: Vec<String>,
    },
    /// A fields grouping chooses no field.
    NoFields(String),
    /// A stream is declared twice by one component.
    DuplicateStream {
        /// The component.
        component: String,
        /// The stream.
        stream: String,
    },
    /// Subscriptions form a cycle (bolts must form a DAG).
    Cycle(String),
    /// The topology has no spout.
    NoSpout,
    /// Too many streams or tasks for the wire format.
    TooLarge(&'static str),
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::DuplicateComponent(c) => write!(f, "component {c:?} is declared twice"),
            TopologyError::EmptyName => f.write_str("a component has an empty name"),
            TopologyError::ZeroParallelism(c) => {
                write!(f, "component {c:?} has parallelism 0 (must be at least 1)")
            }
            TopologyError::UnknownComponent { component, source } => write!(
                f,
                "component {component:?} subscribes to unknown component {source:?}"
            ),
            TopologyError::UnknownStream { component, stream } => write!(
                f,
                "component {component:?} does not declare stream {stream:?}"
            ),
            TopologyError::BadField {
                component,
                stream,
                field,
                declared,
            } => write!(
                f,
                "fields grouping on {component:?}/{stream:?}: no field {field} (declared: {declared:?})"
            ),
            TopologyError::NoFields(c) => write!(f, "fields grouping on {c:?} chooses no field"),
            TopologyError::DuplicateStream { component, stream } => {
                write!(f, "component {component:?} declares stream {stream:?} twice")
            }
            TopologyError::Cycle(c) => write!(f, "subscriptions form a cycle through {c:?}"),
            TopologyError::NoSpout => f.write_str("the topology has no spout"),
            TopologyError::TooLarge(what) => write!(f, "topology too large: {what}"),
        }
    }
}

impl std::error::Error for TopologyError {}

#[derive(Clone)]
enum Logic {
    Spout(SpoutFactory),
    Bolt(BoltFactory),
}

struct Decl {
    name: String,
    logic: Logic,
    parallelism: usize,
    outputs: Vec<(String, Vec<String>)>,
    inputs: Vec<(String, String, Grouping)>,
}

/// Builds a topology.
///
/// ```
/// use ringmq::worker::{Bolt, Collector, Spout, TopologyBuilder, TopologyError, Tuple};
/// struct S;
/// impl Spout for S { fn next_tuple(&mut self, out: &mut Collector) { out.emit(["a".into()]); } }
/// struct B;
/// impl Bolt for B { fn execute(&mut self, _t: &Tuple, _out: &mut Collector) {} }
///
/// let mut b = TopologyBuilder::new();
/// b.set_spout("words", 1, |_| S).output_fields(&["word"]);
/// b.set_bolt("count", 2, |_| B).fields_grouping("words", ["word"]);
/// let topo = b.build().unwrap();
/// assert_eq!(topo.task_count(), 3);
///
/// let mut bad = TopologyBuilder::new();
/// bad.set_spout("words", 1, |_| S).output_fields(&["word"]);
/// bad.set_bolt("count", 1, |_| B).fields_grouping("words", ["nope"]);
/// assert!(matches!(bad.build(), Err(TopologyError::BadField { .. })));
/// ```
#[derive(Default)]
pub struct TopologyBuilder {
    decls: Vec<Decl>,
}

impl fmt::Debug for TopologyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.decls.iter().map(|d| &d.name))
            .finish()
    }
}

/// Declares a component's outputs and subscriptions (returned by
/// [`TopologyBuilder::set_spout`] and [`TopologyBuilder::set_bolt`]).
pub struct ComponentDeclarer<'a> {
    decl: &'a mut Decl,
}

impl fmt::Debug for ComponentDeclarer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decl.name)
    }
}

impl ComponentDeclarer<'_> {
    /// Declares the fields of the default stream.
    pub fn output_fields(self, fields: &[&str]) -> Self {
        self.output_stream(DEFAULT_STREAM, fields)
    }

    /// Declares a named stream and its fields.
    pub fn output_stream(self, stream: &str, fields: &[&str]) -> Self {
        self.decl.outputs.push((
            stream.to_owned(),
            fields.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self
    }

    /// Subscribes to `stream` of `source` with `grouping`.
    pub fn grouping(self, source: &str, stream: &str, grouping: Grouping) -> Self {
        self.decl
            .inputs
            .push((source.to_owned(), stream.to_owned(), grouping));
        self
    }

    /// Shuffle grouping on `source`'s default stream.
    pub fn shuffle_grouping(self, source: &str) -> Self {
        self.grouping(source, DEFAULT_STREAM, Grouping::Shuffle)
    }

    /// Fields grouping on `source`'s default stream (fields by name or index).
    pub fn fields_grouping<I, F>(self, source: &str, fields: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<FieldSel>,
    {
        let f = fields.into_iter().map(Into::into).collect();
        self.grouping(source, DEFAULT_STREAM, Grouping::Fields(f))
    }

    /// All grouping on `source`'s default stream.
    pub fn all_grouping(self, source: &str) -> Self {
        self.grouping(source, DEFAULT_STREAM, Grouping::All)
    }

    /// Global grouping on `source`'s default stream.
    pub fn global_grouping(self, source: &str) -> Self {
        self.grouping(source, DEFAULT_STREAM, Grouping::Global)
    }

    /// Direct grouping on `source`'s default stream.
    pub fn direct_grouping(self, source: &str) -> Self {
        self.grouping(source, DEFAULT_STREAM, Grouping::Direct)
    }

    /// Local-or-shuffle grouping on `source`'s default stream.
    pub fn local_or_shuffle_grouping(self, source: &str) -> Self {
        self.grouping(source, DEFAULT_STREAM, Grouping::LocalOrShuffle)
    }
}

impl TopologyBuilder {
    /// An empty builder.
    pub fn new() -> TopologyBuilder {
        TopologyBuilder::default()
    }

    fn add(&mut self, name: &str, parallelism: usize, logic: Logic) -> ComponentDeclarer<'_> {
        self.decls.push(Decl {
            name: name.to_owned(),
            logic,
            parallelism,
            outputs: Vec::new(),
            inputs: Vec::new(),
        });
        let decl = self.decls.last_mut().expect("just pushed");
        ComponentDeclarer { decl }
    }

    /// Adds a spout with `parallelism` tasks, each made by `factory`.
    pub fn set_spout<S, F>(
        &mut self,
        name: &str,
        parallelism: usize,
        factory: F,
    ) -> ComponentDeclarer<'_>
    where
        S: Spout + 'static,
        F: Fn(&TaskContext) -> S + Send + Sync + 'static,
    {
        let f: SpoutFactory =
            Arc::new(move |c: &TaskContext| Box::new(factory(c)) as Box<dyn Spout>);
        self.add(name, parallelism, Logic::Spout(f))
    }

    /// Adds a bolt with `parallelism` tasks, each made by `factory`.
    pub fn set_bolt<B, F>(
        &mut self,
        name: &str,
        parallelism: usize,
        factory: F,
    ) -> ComponentDeclarer<'_>
    where
        B: Bolt + 'static,
        F: Fn(&TaskContext) -> B + Send + Sync + 'static,
    {
        let f: BoltFactory = Arc::new(move |c: &TaskContext| Box::new(factory(c)) as Box<dyn Bolt>);
        self.add(name, parallelism, Logic::Bolt(f))
    }

    /// Validates and freezes the topology.
    pub fn build(self) -> Result<Arc<Topology>, TopologyError> {
        Topology::from_decls(self.decls).map(Arc::new)
    }
}

/// A subscription: `component` receives a stream with `route`.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub(crate) component: usize,
    pub(crate) route: Route,
}

pub(crate) struct Component {
    pub(crate) name: String,
    logic: Logic,
    pub(crate) tasks: Range<TaskId>,
    /// Declared streams: (id, field names).
    pub(crate) outputs: Vec<(StreamId, Vec<String>)>,
    /// Per stream id (index into the topology's table): who subscribes.
    pub(crate) subscribers: HashMap<StreamId, Vec<Subscription>>,
    /// Components this one subscribes to (deduplicated).
    pub(crate) upstream: Vec<usize>,
    /// Components subscribing to this one (deduplicated).
    pub(crate) downstream: Vec<usize>,
}

/// A validated topology: components, their task ranges, the stream table
/// and the subscriptions. Shared (`Arc`) by every worker.
pub struct Topology {
    pub(crate) components: Vec<Component>,
    streams: Vec<String>,
    /// Per task: its component.
    pub(crate) task_component: Vec<usize>,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_map();
        for c in &self.components {
            d.entry(&c.name, &c.tasks);
        }
        d.finish()
    }
}

impl Topology {
    fn from_decls(decls: Vec<Decl>) -> Result<Topology, TopologyError> {
        let mut index = HashMap::new();
        for (i, d) in decls.iter().enumerate() {
            if d.name.is_empty() {
                return Err(TopologyError::EmptyName);
            }
            if d.parallelism == 0 {
                return Err(TopologyError::ZeroParallelism(d.name.clone()));
            }
            if index.insert(d.name.clone(), i).is_some() {
                return Err(TopologyError::DuplicateComponent(d.name.clone()));
            }
        }
        if !decls.iter().any(|d| matches!(d.logic, Logic::Spout(_))) {
            return Err(TopologyError::NoSpout);
        }
        // Stream table: "default" first, then names in declaration order.
        let mut streams = vec![DEFAULT_STREAM.to_owned()];
        let mut stream_ix: HashMap<String, StreamId> = HashMap::new();
        stream_ix.insert(DEFAULT_STREAM.to_owned(), StreamId::DEFAULT);
        let mut components = Vec::with_capacity(decls.len());
        let mut next_task: u64 = 0;
        let mut task_component = Vec::new();
        for (ci, d) in decls.iter().enumerate() {
            let mut outputs: Vec<(StreamId, Vec<String>)> = Vec::new();
            for (s, fields) in &d.outputs {
                let id = match stream_ix.get(s) {
                    Some(id) => *id,
                    None => {
                        if streams.len() >= usize::from(u16::MAX) {
                            return Err(TopologyError::TooLarge("more than 65535 streams"));
                        }
                        let id = StreamId(streams.len() as u16);
                        streams.push(s.clone());
                        stream_ix.insert(s.clone(), id);
                        id
                    }
                };
                if outputs.iter().any(|(o, _)| *o == id) {
                    return Err(TopologyError::DuplicateStream {
                        component: d.name.clone(),
                        stream: s.clone(),
                    });
                }
                outputs.push((id, fields.clone()));
            }
            let start = next_task;
            next_task += d.parallelism as u64;
            if next_task > u64::from(u32::MAX / 2) {
                return Err(TopologyError::TooLarge("too many tasks"));
            }
            task_component.extend(std::iter::repeat_n(ci, d.parallelism));
            components.push(Component {
                name: d.name.clone(),
                logic: d.logic.clone(),
                tasks: start as TaskId..next_task as TaskId,
                outputs,
                subscribers: HashMap::new(),
                upstream: Vec::new(),
                downstream: Vec::new(),
            });
        }
        for (ci, d) in decls.iter().enumerate() {
            for (src, stream, grouping) in &d.inputs {
                let Some(&si) = index.get(src) else {
                    return Err(TopologyError::UnknownComponent {
                        component: d.name.clone(),
                        source: src.clone(),
                    });
                };
                let unknown = || TopologyError::UnknownStream {
                    component: src.clone(),
                    stream: stream.clone(),
                };
                let sid = *stream_ix.get(stream).ok_or_else(unknown)?;
                let fields = components[si]
                    .outputs
                    .iter()
                    .find(|(id, _)| *id == sid)
                    .map(|(_, f)| f.clone())
                    .ok_or_else(unknown)?;
                let route = match grouping {
                    Grouping::Shuffle => Route::Shuffle,
                    Grouping::All => Route::All,
                    Grouping::Global => Route::Global,
                    Grouping::Direct => Route::Direct,
                    Grouping::LocalOrShuffle => Route::LocalOrShuffle,
                    Grouping::Fields(sel) => {
                        if sel.is_empty() {
                            return Err(TopologyError::NoFields(src.clone()));
                        }
                        let mut ix = Vec::with_capacity(sel.len());
                        for f in sel {
                            let found = match f {
                                FieldSel::Name(n) => fields.iter().position(|x| x == n),
                                FieldSel::Index(i) => (*i < fields.len()).then_some(*i),
                            };
                            let Some(i) = found else {
                                return Err(TopologyError::BadField {
                                    component: src.clone(),
                                    stream: stream.clone(),
                                    field: match f {
                                        FieldSel::Name(n) => format!("{n:?}"),
                                        FieldSel::Index(i) => format!("#{i}"),
                                    },
                                    declared: fields.clone(),
                                });
                            };
                            ix.push(i);
                        }
                        Route::Fields(ix)
                    }
                };
                components[si]
                    .subscribers
                    .entry(sid)
                    .or_default()
                    .push(Subscription {
                        component: ci,
                        route,
                    });
                if !components[ci].upstream.contains(&si) {
                    components[ci].upstream.push(si);
                }
                if !components[si].downstream.contains(&ci) {
                    components[si].downstream.push(ci);
                }
            }
        }
        // Reject cycles (depth-first search with colours).
        fn visit(c: usize, comps: &[Component], state: &mut [u8]) -> Result<(), TopologyError> {
            match state[c] {
                1 => return Err(TopologyError::Cycle(comps[c].name.clone())),
                2 => return Ok(()),
                _ => {}
            }
            state[c] = 1;
            for &d in &comps[c].downstream {
                visit(d, comps, state)?;
            }
            state[c] = 2;
            Ok(())
        }
        let mut state = vec![0u8; components.len()];
        for c in 0..components.len() {
            visit(c, &components, &mut state)?;
        }
        Ok(Topology {
            components,
            streams,
            task_component,
        })
    }

    /// Total number of tasks (task ids are `0..task_count()`).
    pub fn task_count(&self) -> usize {
        self.task_component.len()
    }

    /// The stream table's size.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// A stream's id by name.
    pub fn stream_id(&self, name: &str) -> Option<StreamId> {
        self.streams
            .iter()
            .position(|s| s == name)
            .map(|i| StreamId(i as u16))
    }

    /// A stream's name.
    pub fn stream_name(&self, id: StreamId) -> Option<&str> {
        self.streams.get(usize::from(id.0)).map(String::as_str)
    }

    /// The task ids of a component.
    pub fn component_tasks(&self, name: &str) -> Option<Range<TaskId>> {
        self.components
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.tasks.clone())
    }

    /// The component names, in declaration order.
    pub fn component_names(&self) -> impl Iterator<Item = &str> {
        self.components.iter().map(|c| c.name.as_str())
    }

    /// The component name of a task.
    pub fn task_component(&self, task: TaskId) -> Option<&str> {
        self.task_component
            .get(task as usize)
            .map(|&c| self.components[c].name.as_str())
    }

    pub(crate) fn is_spout(&self, component: usize) -> bool {
        matches!(self.components[component].logic, Logic::Spout(_))
    }

    pub(crate) fn spout_factory(&self, component: usize) -> Option<SpoutFactory> {
        match &self.components[component].logic {
            Logic::Spout(f) => Some(f.clone()),
            Logic::Bolt(_) => None,
        }
    }

    pub(crate) fn bolt_factory(&self, component: usize) -> Option<BoltFactory> {
        match &self.components[component].logic {
            Logic::Bolt(f) => Some(f.clone()),
            Logic::Spout(_) => None,
        }
    }

    /// Upstream tasks of `task`: every task of every component it
    /// subscribes to (each sends it an end-of-stream marker).
    pub(crate) fn upstream_task_count(&self, task: TaskId) -> usize {
        let c = self.task_component[task as usize];
        self.components[c]
            .upstream
            .iter()
            .map(|&u| self.components[u].tasks.len())
            .sum()
    }

    /// Downstream tasks of `task`: every task of every component that
    /// subscribes to its component.
    pub(crate) fn downstream_tasks(&self, task: TaskId) -> Vec<TaskId> {
        let c = self.task_component[task as usize];
        self.components[c]
            .downstream
            .iter()
            .flat_map(|&d| self.components[d].tasks.clone())
            .collect()
    }

    /// Whether `stream` is declared by `component`.
    pub(crate) fn declares(&self, component: usize, stream: StreamId) -> bool {
        self.components[component]
            .outputs
            .iter()
            .any(|(s, _)| *s == stream)
    }
}
