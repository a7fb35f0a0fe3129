DROP TABLE daily_meals;
