//! The registry of diagnostic codes. Each has an explanation in `compiler/codes/CODE.md`, printed by
//! `warden explain-code CODE`; a test checks that every code used in the source is here exactly once.

pub const CODES: &[(&str, &str)] = &[
    ("E0001", include_str!("../../codes/E0001.md")),
    ("E0002", include_str!("../../codes/E0002.md")),
    ("E0101", include_str!("../../codes/E0101.md")),
    ("E0102", include_str!("../../codes/E0102.md")),
    ("E0103", include_str!("../../codes/E0103.md")),
    ("E0104", include_str!("../../codes/E0104.md")),
    ("E0105", include_str!("../../codes/E0105.md")),
    ("E0106", include_str!("../../codes/E0106.md")),
    ("E0107", include_str!("../../codes/E0107.md")),
    ("E0108", include_str!("../../codes/E0108.md")),
    ("E0109", include_str!("../../codes/E0109.md")),
    ("E0110", include_str!("../../codes/E0110.md")),
    ("E0111", include_str!("../../codes/E0111.md")),
    ("E0112", include_str!("../../codes/E0112.md")),
    ("E0113", include_str!("../../codes/E0113.md")),
    ("E0115", include_str!("../../codes/E0115.md")),
    ("E0201", include_str!("../../codes/E0201.md")),
    ("E0202", include_str!("../../codes/E0202.md")),
    ("E0203", include_str!("../../codes/E0203.md")),
    ("E0204", include_str!("../../codes/E0204.md")),
    ("E0205", include_str!("../../codes/E0205.md")),
    ("E0206", include_str!("../../codes/E0206.md")),
    ("E0207", include_str!("../../codes/E0207.md")),
    ("E0208", include_str!("../../codes/E0208.md")),
    ("E0301", include_str!("../../codes/E0301.md")),
    ("E0302", include_str!("../../codes/E0302.md")),
    ("E0303", include_str!("../../codes/E0303.md")),
    ("E0304", include_str!("../../codes/E0304.md")),
    ("E0305", include_str!("../../codes/E0305.md")),
    ("E0306", include_str!("../../codes/E0306.md")),
    ("E0307", include_str!("../../codes/E0307.md")),
    ("E0308", include_str!("../../codes/E0308.md")),
    ("W0305", include_str!("../../codes/W0305.md")),
    ("W0306", include_str!("../../codes/W0306.md")),
    ("W0307", include_str!("../../codes/W0307.md")),
    ("E0401", include_str!("../../codes/E0401.md")),
    ("W0402", include_str!("../../codes/W0402.md")),
    ("E0403", include_str!("../../codes/E0403.md")),
    ("W0404", include_str!("../../codes/W0404.md")),
    ("E0405", include_str!("../../codes/E0405.md")),
    ("E0501", include_str!("../../codes/E0501.md")),
    ("E0502", include_str!("../../codes/E0502.md")),
    ("E0503", include_str!("../../codes/E0503.md")),
    ("E0504", include_str!("../../codes/E0504.md")),
    ("E0505", include_str!("../../codes/E0505.md")),
    ("W0506", include_str!("../../codes/W0506.md")),
    ("W0507", include_str!("../../codes/W0507.md")),
    ("E0601", include_str!("../../codes/E0601.md")),
    ("E0602", include_str!("../../codes/E0602.md")),
    ("W0701", include_str!("../../codes/W0701.md")),
    ("W0702", include_str!("../../codes/W0702.md")),
    ("N0001", include_str!("../../codes/N0001.md")),
    ("E0801", include_str!("../../codes/E0801.md")),
    ("E0802", include_str!("../../codes/E0802.md")),
    ("E0803", include_str!("../../codes/E0803.md")),
    ("E0804", include_str!("../../codes/E0804.md")),
    ("E0805", include_str!("../../codes/E0805.md")),
    ("E0901", include_str!("../../codes/E0901.md")),
    ("E0902", include_str!("../../codes/E0902.md")),
];

/// The explanation of a code, if it exists.
pub fn explain(code: &str) -> Option<&'static str> {
    let code = code.to_ascii_uppercase();
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
}
