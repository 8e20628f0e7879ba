//! Graph export in Graphviz DOT, for looking at what the engine will walk.

use std::collections::HashSet;
use std::fmt::Write;

use crate::tensor::Tensor;

impl Tensor {
    /// The graph that produced this tensor, in Graphviz DOT: one box per tensor (op name
    /// and shape; leaves show whether they need a gradient), one edge per input. Render
    /// with `dot -Tsvg graph.dot > graph.svg`.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let w = Tensor::param(NdArray::ones(&[2]));
    /// let loss = w.mul(&w).sum_all();
    /// let dot = loss.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("mul") && dot.contains("sum"));
    /// ```
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph agon {\n  rankdir=BT;\n  node [shape=box, fontname=monospace];\n",
        );
        let mut seen = HashSet::new();
        let mut stack = vec![self.clone()];
        while let Some(t) = stack.pop() {
            if !seen.insert(t.id()) {
                continue;
            }
            let label = match t.op_name() {
                Some(op) => format!("{op}\\n{:?}", t.shape()),
                None if t.requires_grad() => format!("param\\n{:?}", t.shape()),
                None => format!("const\\n{:?}", t.shape()),
            };
            let style = if t.is_leaf() { ", style=rounded" } else { "" };
            // Writing to a String cannot fail.
            let _ = writeln!(out, "  n{} [label=\"{label}\"{style}];", t.id());
            for input in t.inputs() {
                let _ = writeln!(out, "  n{} -> n{};", input.id(), t.id());
                stack.push(input.clone());
            }
        }
        out.push_str("}\n");
        out
    }
}
