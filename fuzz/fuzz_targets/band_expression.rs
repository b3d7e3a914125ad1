//! Feeds arbitrary text as a band expression to `pvs_raster::expression::Expression::parse`
//! (the styles' expressions, and the WMS `DIM_BANDS` expressions a client may send), with
//! bands `B01` to `B12`, and evaluates what it accepts. Checks that the evaluation stack
//! reserved is enough (evaluating never grows it) and that the text reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvs_raster::expression::Expression;

fn band(name: &str) -> Option<usize> {
    let number: usize = name.strip_prefix('B')?.parse().ok()?;
    (1..=12).contains(&number).then_some(number)
}

fuzz_target!(|text: &str| {
    let Ok(expression) = Expression::parse(text, &band) else {
        return;
    };
    let values: Vec<f64> = (0..=12).map(|b| b as f64 * 0.5 - 2.0).collect();
    let mut stack = Vec::with_capacity(expression.stack_size());
    let capacity = stack.capacity();
    let _ = expression.evaluate(&values, &mut stack);
    assert_eq!(stack.capacity(), capacity);
    let again = Expression::parse(&expression.to_string(), &band).expect("own text reads back");
    assert_eq!(again, expression);
});
