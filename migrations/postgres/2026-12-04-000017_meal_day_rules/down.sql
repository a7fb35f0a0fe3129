DROP TABLE meal_corrections;
DROP TABLE meal_settings;
DROP TABLE daily_meal_absences;
