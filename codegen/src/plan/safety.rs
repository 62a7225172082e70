//! Which column changes can lose data or fail on existing rows (refused unless
//! acknowledged), and which no migration can make.

use crate::model::*;

use super::differ::Differ;

impl Differ<'_> {
    /// Narrowing, NOT NULL without a default, and identity changes SQL Server cannot
    /// make in place.
    pub(super) fn check_column_change(&mut self, table: &str, before: &Column, after: &Column) {
        let (old, new) = (before.ty.storage(self.before), after.ty.storage(self.after));
        if old != new {
            if let Some(why) = narrowing(old, new) {
                self.destructive(format!("narrow column {table}.{}", after.name), why);
            }
        }
        if before.nullable && !after.nullable && after.default.is_none() {
            self.destructive(
                format!("make column {table}.{} not null", after.name),
                "rows where it is NULL make the migration fail; give the column a default (existing NULLs are then set to it) or fill them first".into(),
            );
        }
        if before.identity != after.identity && self.after.has_dialect(Dialect::Mssql) {
            self.unsupported.push(format!(
                "column `{table}.{}` changes `identity`: SQL Server cannot add or remove IDENTITY on an existing column; add a new column instead",
                after.name
            ));
        }
    }
}

/// Why changing `old` to `new` can lose data, if it can.
pub(super) fn narrowing(old: &ColumnType, new: &ColumnType) -> Option<String> {
    use ColumnType::*;
    let rank = |t: &ColumnType| match t {
        SmallInt => Some(1),
        Int => Some(2),
        BigInt => Some(3),
        _ => None,
    };
    match (old, new) {
        (String { length: a }, String { length: b }) if b >= a => None,
        (String { length: a }, String { length: b }) => Some(format!("string({a}) → string({b}) cuts values longer than {b} characters")),
        (String { .. }, Text) => None,
        (Text, String { length }) => Some(format!("text → string({length}) cuts longer values")),
        (a, b) if rank(a).is_some() && rank(b).is_some() => {
            if rank(b) >= rank(a) {
                None
            } else {
                Some("a smaller integer type cannot hold the larger values".into())
            }
        }
        (SmallInt | Int, Double | Decimal { .. }) | (Float, Double) => None,
        (Decimal { precision: p1, scale: s1 }, Decimal { precision: p2, scale: s2 }) if p2 - s2.min(p2) >= p1 - s1.min(p1) && s2 >= s1 => None,
        (Decimal { .. }, Decimal { .. }) => Some("fewer digits before or after the point round or reject values".into()),
        (_, Text) => None,
        _ => Some(format!("changing the type from {old:?} to {new:?} converts every value and can fail or lose data")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_is_safe_and_narrowing_is_not() {
        use ColumnType::*;
        assert!(narrowing(&String { length: 64 }, &String { length: 128 }).is_none());
        assert!(narrowing(&String { length: 128 }, &String { length: 64 }).is_some());
        assert!(narrowing(&Int, &BigInt).is_none());
        assert!(narrowing(&BigInt, &Int).is_some());
        assert!(narrowing(&Text, &String { length: 10 }).is_some());
        assert!(narrowing(&String { length: 10 }, &Text).is_none());
    }
}
