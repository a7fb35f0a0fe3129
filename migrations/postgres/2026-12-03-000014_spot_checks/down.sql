DROP TABLE inspection_sampled;
DROP TABLE inspection_visits;
DROP TABLE inspection_plans;
