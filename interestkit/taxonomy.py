"""The 36 interest categories of the paper's Table 1 (from the Curlie directory).

Models are not bound to this list: a model knows the labels it was trained on, and
rankings live on the union of the labels of the models involved.
"""

INTERESTS = (
    "Dance", "AI", "Comics", "Smartphone", "Nutrition", "Camping",
    "Clothes", "Hair", "Gardening", "Fishing", "Pets", "Hunting",
    "Vehicle", "Baseball", "Art", "Golf", "Book", "Laptop",
    "Basketball", "Skincare", "Spa", "Renovation", "Cooking", "Furniture",
    "Ski", "Travel", "Disability", "Football", "Fitness", "Electronics",
    "Movie", "Tattoo", "Food", "Swim", "Music", "Jewelry",
)
