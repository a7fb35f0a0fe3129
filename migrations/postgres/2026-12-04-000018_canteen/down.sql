DROP TABLE weekly_menus;
DROP TABLE meal_accompany;
