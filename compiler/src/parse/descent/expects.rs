//! Expectations: `expect FROM -> TO [on PORT] allowed|denied`.

use super::{Parser, Rule};
use crate::ast::*;

impl Parser<'_> {
    // ------------------------------------------------------------ expectations

    /// `expect_decl = { kw_expect ~ endpoint ~ arrow ~ endpoint ~ (kw_on ~ port_ref)? ~ verdict }`.
    pub(super) fn expect_decl(&mut self) -> Option<Expect> {
        self.rule(Rule::expect_decl, |p| {
            let start = p.pos;
            p.kw("expect")?;
            p.skip();
            let from = p.endpoint()?;
            p.skip();
            p.punct(Rule::arrow, "->")?;
            p.skip();
            let to = p.endpoint()?;
            p.skip();
            let port = p.opt(|p| {
                p.kw("on")?;
                p.skip();
                p.port_ref()
            });
            p.skip();
            let allowed = p.rule(Rule::verdict, |p| {
                if p.kw("allowed").is_some() {
                    Some(true)
                } else {
                    p.kw("denied").map(|()| false)
                }
            })?;
            Some(Expect {
                from,
                to,
                port,
                allowed,
                span: p.span(start),
            })
        })
    }

    /// `endpoint = { world | expect_cidr | service_ref }`.
    pub(super) fn endpoint(&mut self) -> Option<Endpoint> {
        self.rule(Rule::endpoint, |p| {
            if let Some(s) = p.kw_rule(Rule::world, "world") {
                return Some(Endpoint::World(s));
            }
            if let Some(lit) = p.rule(Rule::expect_cidr, |p| {
                p.kw("cidr")?;
                p.skip();
                p.cidr_lit()
            }) {
                return Some(Endpoint::Cidr(lit));
            }
            p.service_ref().map(Endpoint::Service)
        })
    }
}
