# Stanford Cars in mmpretrain's layout (mmpretrain.datasets.StanfordCars): Stanford_Cars/{car_ims/,
# cars_annos.mat} or {cars_train/, cars_test/, devkit/}; the official split, 8,144 train / 8,041 test.
fg_num_classes = 196
fg_train_dataset = dict(type='StanfordCars', data_root='data/Stanford_Cars', split='train')
fg_test_dataset = dict(type='StanfordCars', data_root='data/Stanford_Cars', split='test')
