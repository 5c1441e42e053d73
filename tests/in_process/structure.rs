//! No import cycles between modules, at every level of the tree: for each module, its
//! children (each with everything below it) form a graph by the paths their code names
//! (`crate::a::b`, `super::x`), and that graph has no cycle. A child naming its own
//! ancestors (`super::Thing`) is how Rust modules share a parent's types and is not an
//! edge; comments are not code. Cycles that predate the check are listed and may only
//! go away; the two roles (outpost, operator) never import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path such as `["outpost", "server", "login"]`; the crate root is `[]`.
type Module = Vec<String>;

/// Every module of the crate with the code of its file.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap().with_extension("");
        let mut module: Module = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            module.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            module.pop();
        }
        let code = std::fs::read_to_string(&file).unwrap();
        out.entry(module)
            .and_modify(|c: &mut String| c.push_str(&code))
            .or_insert(code);
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The code without comments (line comments and doc comments; block comments are not
/// used in this crate's code).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string (a URL) keeps the line up to the string's end.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `code` (in `module`) names: `crate::a::b...` and `super::...`,
/// resolved against `known` (the longest known module prefix wins). Group imports
/// (`crate::a::{b, c::d}`) name each member.
fn references(module: &Module, code: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut out = BTreeSet::new();
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < code.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let preceded_by_ident = i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':');
        let start: Option<(Module, usize)> = if preceded_by_ident {
            None
        } else if rest.starts_with("crate::") {
            Some((Vec::new(), "crate::".len()))
        } else if rest.starts_with("super::") {
            let mut base = module.clone();
            let mut used = 0;
            while code[i + used..].starts_with("super::") {
                base.pop();
                used += "super::".len();
            }
            Some((base, used))
        } else {
            None
        };
        let Some((base, used)) = start else {
            i += 1;
            continue;
        };
        i += used;
        for path in expand(&code[i..], base) {
            if let Some(found) = longest_known(&path, known) {
                out.insert(found);
            }
        }
    }
    out
}

/// The paths named at the start of `text`: `a::b::c` or `a::{b, c::d}` (one level of
/// braces, which is all rustfmt leaves in this crate).
fn expand(text: &str, base: Module) -> Vec<Module> {
    let mut path = base;
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            return group[..end]
                .split(',')
                .flat_map(|member| expand(member.trim(), path.clone()))
                .collect();
        }
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        path.push(ident.clone());
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![path],
        }
    }
    vec![path]
}

fn longest_known(path: &Module, known: &BTreeSet<Module>) -> Option<Module> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

/// Every module and the modules it names, ancestors and descendants left out.
fn edges(src: &Path) -> (BTreeSet<Module>, BTreeSet<(Module, Module)>) {
    let modules = modules(src);
    let known: BTreeSet<Module> = modules.keys().cloned().collect();
    let mut edges: BTreeSet<(Module, Module)> = BTreeSet::new();
    for (module, text) in &modules {
        for target in references(module, &code_only(text), &known) {
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                edges.insert((module.clone(), target));
            }
        }
    }
    (known, edges)
}

/// For every parent module, the cycles among its children's subtrees.
fn cycles(src: &Path) -> Vec<String> {
    let (known, edges) = edges(src);
    let mut found = Vec::new();
    for parent in &known {
        // Each edge between two different children subtrees of `parent`.
        let child_of = |m: &Module| -> Option<String> {
            (m.len() > parent.len() && m.starts_with(parent)).then(|| m[parent.len()].clone())
        };
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in &edges {
            if let (Some(a), Some(b)) = (child_of(from), child_of(to))
                && a != b
            {
                graph.entry(a).or_default().insert(b);
            }
        }
        for cycle in strongly_connected(&graph) {
            // The imports that close the cycle, so the message says what to move.
            let within = |m: &Module| child_of(m).is_some_and(|c| cycle.contains(&c));
            let imports: Vec<String> = edges
                .iter()
                .filter(|(from, to)| within(from) && within(to) && child_of(from) != child_of(to))
                .map(|(from, to)| format!("    {} uses {}", from.join("::"), to.join("::")))
                .collect();
            found.push(format!(
                "in {}: {}\n{}",
                if parent.is_empty() {
                    "the crate root".to_string()
                } else {
                    parent.join("::")
                },
                cycle.join(" <-> "),
                imports.join("\n")
            ));
        }
    }
    found
}

/// The strongly connected components with more than one member (Tarjan's algorithm).
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Cycles that existed when this check was written (issue 9's list), each still to be
/// broken. The list only shrinks: a new cycle fails the test, and so does a listed one
/// that no longer exists (delete its line).
const KNOWN_CYCLES: &[&str] = &[];

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = cycles(&src);
    let heading = |cycle: &String| cycle.lines().next().unwrap_or_default().to_string();
    let new: Vec<&String> = found
        .iter()
        .filter(|c| !KNOWN_CYCLES.contains(&heading(c).as_str()))
        .collect();
    assert!(
        new.is_empty(),
        "new import cycles (each: the modules that reach each other, and the imports):\n{}",
        new.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let headings: Vec<String> = found.iter().map(heading).collect();
    let gone: Vec<&&str> = KNOWN_CYCLES
        .iter()
        .filter(|k| !headings.iter().any(|h| h == *k))
        .collect();
    assert!(
        gone.is_empty(),
        "these cycles are broken now; delete them from KNOWN_CYCLES: {gone:?}"
    );
}

#[test]
fn the_two_roles_never_import_each_other() {
    // The outpost and the operator are separate processes that share the pure layers
    // (config, oidc, api, reconcile) and meet only through the cluster.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (_, edges) = edges(&src);
    let crossing: Vec<String> = edges
        .iter()
        .filter(|(from, to)| {
            let (a, b) = (from.first(), to.first());
            matches!(
                (a.map(String::as_str), b.map(String::as_str)),
                (Some("outpost"), Some("operator" | "render"))
                    | (Some("operator"), Some("outpost" | "render"))
            )
        })
        .map(|(from, to)| format!("{} uses {}", from.join("::"), to.join("::")))
        .collect();
    assert!(crossing.is_empty(), "{}", crossing.join("\n"));
}

#[test]
fn the_cycle_check_sees_a_cycle_between_siblings_and_ignores_parents() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\n");
    write("a/mod.rs", "mod inner;\npub use inner::X;\n");
    write(
        "a/inner.rs",
        "use super::super::b::Y; // crate::c is a comment\n",
    );
    write("b.rs", "use crate::{a::X, b};\npub struct Y;\n");
    assert_eq!(
        cycles(dir.path()),
        vec!["in the crate root: a <-> b\n    a::inner uses b\n    b uses a"]
    );
    write("b.rs", "pub struct Y;\n");
    assert!(cycles(dir.path()).is_empty());
}
