//! The shape of `src/`: only `gateway` (and `server`, `main`, which build and serve it)
//! names the `Gateway`, every other stage taking the narrow context it reads; and the
//! modules `src/lib.rs` lists import one another without a circle (`KNOWN` is empty). Read
//! from the source files, no build needed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Circles left among the modules, each with the reason it is allowed: none. The list stays
/// so that one kept on purpose is written down here, not hidden.
const KNOWN: &[(&[&str], &str)] = &[];

/// Files that may name `Gateway`.
const BUILDERS: &[&str] = &["gateway.rs", "server.rs", "main.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            out.push((relative, fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The code of a file without its comments and its unit-test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The top-level modules `lib.rs` declares.
fn modules() -> Vec<String> {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines().filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';')).map(str::to_owned).collect()
}

/// The top-level module a file belongs to.
fn module_of(relative: &str) -> &str {
    let first = relative.split('/').next().unwrap_or_default();
    first.strip_suffix(".rs").unwrap_or(first)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `code` has `word` as a whole identifier.
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after = code[at + word.len()..].chars().next().is_none_or(|c| !is_word(c));
        before && after
    })
}

/// The modules `code` reaches with `crate::name` paths, `use crate::{a, b::c}` groups included.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let group = rest.strip_prefix('{').map(|g| g.split('}').next().unwrap_or_default());
        for part in group.unwrap_or(rest).split(',') {
            let name: String = part.trim().chars().take_while(|c| is_word(*c)).collect();
            if modules.contains(&name) {
                found.insert(name);
            }
            if group.is_none() {
                break;
            }
        }
    }
    found
}

/// Module → the modules it imports, from every file outside unit tests.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = modules().into_iter().collect();
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for (relative, text) in &files {
        let from = module_of(relative);
        if relative.ends_with("tests.rs") || !modules.contains(from) {
            continue;
        }
        let edges = graph.get_mut(from).unwrap();
        edges.extend(imports(&code(text), &modules).into_iter().filter(|to| to != from));
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, v: &'a str) {
        let n = walk.index.len();
        walk.index.insert(v, n);
        walk.low.insert(v, n);
        walk.stack.push(v);
        for w in &walk.graph[v] {
            if !walk.index.contains_key(w.as_str()) {
                visit(walk, w);
                let low = walk.low[v].min(walk.low[w.as_str()]);
                walk.low.insert(v, low);
            } else if walk.stack.contains(&w.as_str()) {
                let low = walk.low[v].min(walk.index[w.as_str()]);
                walk.low.insert(v, low);
            }
        }
        if walk.low[v] == walk.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = walk.stack.pop() {
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

/// One circle through `start` within `component`, as `a → b → … → a`.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, component: &BTreeSet<String>, start: &str) -> String {
    // Breadth-first from `start` back to it, inside the component.
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = vec![start.to_owned()];
    while let Some(at) = (!queue.is_empty()).then(|| queue.remove(0)) {
        for next in graph[&at].iter().filter(|n| component.contains(*n)) {
            if next == start {
                let mut path = vec![start.to_owned(), at.clone()];
                while let Some(previous) = came_from.get(path.last().unwrap()) {
                    path.push(previous.clone());
                }
                path.reverse();
                return path.join(" → ");
            }
            if !came_from.contains_key(next) && next != start {
                came_from.insert(next.clone(), at.clone());
                queue.push(next.clone());
            }
        }
    }
    format!("{start} (no circle found)")
}

#[test]
fn only_the_gateway_and_its_builders_name_the_gateway() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let naming: Vec<&str> = files
        .iter()
        .filter(|(relative, text)| !BUILDERS.contains(&relative.as_str()) && names(&code(text), "Gateway"))
        .map(|(relative, _)| relative.as_str())
        .collect();
    assert!(naming.is_empty(), "these files name `Gateway`; give them the narrow context they read: {naming:?}");
}

#[test]
fn the_modules_import_no_circle_but_the_known_ones() {
    let graph = graph();
    assert!(graph.len() > 10 && graph["gateway"].contains("retry"), "the graph was read: {graph:?}");
    let mut unknown = Vec::new();
    for component in circles(&graph) {
        let known = KNOWN.iter().any(|(members, _)| component.iter().all(|m| members.contains(&m.as_str())));
        if !known {
            let start = component.iter().next().unwrap();
            unknown.push(format!("{component:?}, e.g. {}", cycle(&graph, &component, start)));
        }
    }
    assert!(unknown.is_empty(), "import circles among the modules of lib.rs:\n{}", unknown.join("\n"));
}

#[test]
fn the_reader_finds_imports_and_circles() {
    let modules: BTreeSet<String> = ["a", "b", "c"].map(str::to_owned).into();
    let found = imports("use crate::{a::X, b};\nlet y = crate::c::f(); // crate::d", &modules);
    assert_eq!(found, modules);
    assert!(names("x: &Gateway,", "Gateway") && !names("GatewayLike", "Gateway"));
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
    let found = circles(&graph);
    assert_eq!(found, vec![["a", "b", "c"].map(str::to_owned).into()]);
    assert_eq!(cycle(&graph, &found[0], "a"), "a → b → c → a");
}
