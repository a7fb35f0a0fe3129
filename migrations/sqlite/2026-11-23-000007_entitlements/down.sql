DROP TABLE entitlement_lines;
DROP TABLE entitlement_periods;
DROP TABLE entitlement_rules;
